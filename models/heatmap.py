#!/usr/bin/python3
"""Adds the heat-map output to a demonstration model's ONNX graph (class activation map).

The demonstration networks end in   features -> GlobalMaxPool -> Flatten -> Gemm(W, b) -> logit.
The heat map applies the same linear head at every position of the last feature map:

    heatmap[n, 0, y, x] = W . features[n, :, y, x] + b        (a 1x1 convolution with the head's weights)

so it is in logit units like the score (the manifest's activation, sigmoid, turns both into probabilities) and it
peaks where the features that drive the score are. The score output and every weight are left untouched: the
model's scores are bit-identical before and after. train.py calls this on every export; run it by hand on a model
exported before the heat map existed:

    /usr/bin/python3 models/heatmap.py models/ich-ct-demo models/ptx-cxr-demo

which rewrites model.onnx, and in model.json the sha256 and output.heatmap.
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

OUTPUT = "heatmap"


def add_heatmap_output(path):
    """Rewrites the ONNX file at path with a second output, 'heatmap' [N, 1, h, w]; returns (h, w)."""
    m = onnx.load(path)
    g = m.graph
    if any(o.name == OUTPUT for o in g.output):
        raise SystemExit(f"{path}: already has a '{OUTPUT}' output")
    by_output = {o: n for n in g.node for o in n.output}
    gemm = by_output.get(g.output[0].name)
    if gemm is None or gemm.op_type != "Gemm":
        raise SystemExit(f"{path}: the score output is not produced by a Gemm head")
    flatten = by_output[gemm.input[0]]
    pool = by_output[flatten.input[0]]
    if flatten.op_type != "Flatten" or pool.op_type not in ("MaxPool", "GlobalMaxPool", "GlobalAveragePool", "AveragePool"):
        raise SystemExit(f"{path}: expected features -> pool -> Flatten -> Gemm, found {pool.op_type} -> {flatten.op_type} -> Gemm")
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    inits = {i.name: i for i in g.initializer}
    w = numpy_helper.to_array(inits[gemm.input[1]]).astype(np.float32)
    if not attrs.get("transB", 0):
        w = w.T  # to [out, in]
    w *= float(attrs.get("alpha", 1.0))
    if w.shape[0] != 1:
        raise SystemExit(f"{path}: heat map needs a single-output head, found {w.shape[0]}")
    b = numpy_helper.to_array(inits[gemm.input[2]]).astype(np.float32).reshape(-1) * float(attrs.get("beta", 1.0))
    g.initializer.append(numpy_helper.from_array(w.reshape(w.shape[0], w.shape[1], 1, 1), "heatmap.weight"))
    g.initializer.append(numpy_helper.from_array(b, "heatmap.bias"))
    g.node.append(helper.make_node("Conv", [pool.input[0], "heatmap.weight", "heatmap.bias"], [OUTPUT],
                                   name="/heatmap/Conv", kernel_shape=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0]))
    g.output.append(helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["N", 1, None, None]))
    inferred = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(inferred)
    dims = next(v for v in inferred.graph.output if v.name == OUTPUT).type.tensor_type.shape.dim
    size = (dims[2].dim_value, dims[3].dim_value)
    # keep the declared output loose on batch; record the spatial size the shape inference found
    g.output[-1].CopyFrom(helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["N", 1, size[0], size[1]]))
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return size


def update_manifest(folder):
    """Adds the heat map to the model in folder and rewrites its manifest's sha256 and output.heatmap."""
    manifest_path = os.path.join(folder, "model.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    onnx_path = os.path.join(folder, manifest["file"])
    h, w = add_heatmap_output(onnx_path)
    manifest["sha256"] = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    manifest["output"]["heatmap"] = {"name": OUTPUT, "activation": manifest["output"]["activation"]}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{folder}: heat map {h}x{w}, sha256 {manifest['sha256']}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for folder in sys.argv[1:]:
        update_manifest(folder)
