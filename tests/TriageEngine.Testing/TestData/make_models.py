"""Builds the tiny ONNX models the inference tests use (run with Debian's /usr/bin/python3 and python3-onnx).

mean-logit.onnx: input [N,1,8,8] -> logit [N,1] = 10 * mean(input) - 5, so sigmoid(logit) is a known function
of the pixels and a test can check preprocessing, batching and activation end to end; and
heatmap [N,1,8,8] = 10 * input - 5, the same function per pixel, so a test can check the heat-map path too.
"""
import onnx
from onnx import TensorProto, helper

inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])
out = helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", 1])
heat = helper.make_tensor_value_info("heatmap", TensorProto.FLOAT, ["N", 1, 8, 8])
nodes = [
    helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
    helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
    helper.make_node("Mul", ["flat", "ten"], ["scaled"]),
    helper.make_node("Sub", ["scaled", "five"], ["logit"]),
    helper.make_node("Mul", ["input", "ten"], ["pixel_scaled"]),
    helper.make_node("Sub", ["pixel_scaled", "five"], ["heatmap"]),
]
inits = [
    helper.make_tensor("ten", TensorProto.FLOAT, [1], [10.0]),
    helper.make_tensor("five", TensorProto.FLOAT, [1], [5.0]),
]
graph = helper.make_graph(nodes, "mean_logit", [inp], [out, heat], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="triageengine-tests")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "mean-logit.onnx")
print("wrote mean-logit.onnx")
