using System.Text;

namespace TriageEngine.Testing;

/// <summary>
/// Writes small ONNX models for fault tests, encoding the ModelProto protobuf by hand (field numbers from onnx.proto),
/// so no ONNX tooling is needed. Every model takes "input" [N,1,8,8] float and gives "logit" [N,1].
/// </summary>
public static class TestOnnx
{
    private const int Float = 1;
    private const int Int64 = 7;

    /// <summary>
    /// Loads fine, fails at run time: "logit" is the input reshaped to [-1, 7], which 64·N values never fit.
    /// </summary>
    public static byte[] FailsAtRunTime() => Model(
        [Node("Reshape", ["input", "seven"], ["logit"])],
        [Int64Tensor("seven", [2], [-1, 7])]);

    /// <summary>
    /// Scores like mean-logit (sigmoid(10·mean − 5)), after <paramref name="matMuls"/> chained multiplications of a
    /// <paramref name="size"/>² matrix built from the input (so nothing can be folded at load time) whose result is
    /// multiplied by zero: each run takes as long as the chain, many seconds for the defaults.
    /// </summary>
    public static byte[] Slow(int size = 1536, int matMuls = 500)
    {
        var nodes = new List<byte[]>
        {
            Node("ReduceMean", ["input"], ["m"], Ints("axes", [1, 2, 3]), Int("keepdims", 1)),       // [N,1,1,1]
            Node("ReduceMean", ["m"], ["m0"], Ints("axes", [0]), Int("keepdims", 0)),               // [1,1,1]
            Node("Reshape", ["m0", "one_one"], ["m1"]),                                            // [1,1]
            Node("Expand", ["m1", "square"], ["a0"]),                                              // [size,size]
        };
        for (var i = 0; i < matMuls; i++)
        {
            nodes.Add(Node("MatMul", [$"a{i}", "eye"], [$"a{i + 1}"]));
        }

        nodes.Add(Node("ReduceMean", [$"a{matMuls}"], ["s"], Int("keepdims", 1)));                 // [1,1]
        nodes.Add(Node("Mul", ["s", "zero"], ["nothing"]));
        nodes.Add(Node("ReduceMean", ["input"], ["mean"], Ints("axes", [2, 3]), Int("keepdims", 0))); // [N,1]
        nodes.Add(Node("Mul", ["mean", "ten"], ["scaled"]));
        nodes.Add(Node("Sub", ["scaled", "five"], ["shifted"]));
        nodes.Add(Node("Add", ["shifted", "nothing"], ["logit"]));
        var eye = new float[size * size];
        for (var i = 0; i < size; i++)
        {
            eye[(i * size) + i] = 1f; // identity: the values stay finite however long the chain
        }

        return Model(nodes,
        [
            Int64Tensor("one_one", [2], [1, 1]),
            Int64Tensor("square", [2], [size, size]),
            FloatTensor("eye", [size, size], eye),
            FloatTensor("zero", [1], [0f]),
            FloatTensor("ten", [1], [10f]),
            FloatTensor("five", [1], [5f]),
        ]);
    }

    private static byte[] Model(IEnumerable<byte[]> nodes, IEnumerable<byte[]> initializers)
    {
        var graph = new Proto();
        foreach (var n in nodes)
        {
            graph.Bytes(1, n);
        }

        graph.String(2, "fault_test");
        foreach (var t in initializers)
        {
            graph.Bytes(5, t);
        }

        graph.Bytes(11, ValueInfo("input", [null, 1, 8, 8]));
        graph.Bytes(12, ValueInfo("logit", [null, 1]));
        var opset = new Proto().String(1, "").Varint(2, 13);
        return new Proto().Varint(1, 8).String(2, "triageengine-tests").Bytes(7, graph.ToArray()).Bytes(8, opset.ToArray()).ToArray();
    }

    private static byte[] Node(string op, string[] inputs, string[] outputs, params byte[][] attributes)
    {
        var p = new Proto();
        foreach (var i in inputs)
        {
            p.String(1, i);
        }

        foreach (var o in outputs)
        {
            p.String(2, o);
        }

        p.String(4, op);
        foreach (var a in attributes)
        {
            p.Bytes(5, a);
        }

        return p.ToArray();
    }

    private static byte[] Int(string name, long value) => new Proto().String(1, name).Varint(3, (ulong)value).Varint(20, 2).ToArray();

    private static byte[] Ints(string name, long[] values)
    {
        var p = new Proto().String(1, name);
        foreach (var v in values)
        {
            p.Varint(8, (ulong)v);
        }

        return p.Varint(20, 7).ToArray();
    }

    private static byte[] Int64Tensor(string name, long[] dims, long[] values)
    {
        var p = new Proto();
        foreach (var d in dims)
        {
            p.Varint(1, (ulong)d);
        }

        p.Varint(2, Int64);
        foreach (var v in values)
        {
            p.Varint(7, (ulong)v);
        }

        return p.String(8, name).ToArray();
    }

    private static byte[] FloatTensor(string name, long[] dims, float[] values)
    {
        var p = new Proto();
        foreach (var d in dims)
        {
            p.Varint(1, (ulong)d);
        }

        var raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length); // little-endian, as ONNX raw_data is
        return p.Varint(2, Float).String(8, name).Bytes(9, raw).ToArray();
    }

    private static byte[] ValueInfo(string name, long?[] dims)
    {
        var shape = new Proto();
        foreach (var d in dims)
        {
            shape.Bytes(1, d is { } v ? new Proto().Varint(1, (ulong)v).ToArray() : new Proto().String(2, "N").ToArray());
        }

        var tensor = new Proto().Varint(1, Float).Bytes(2, shape.ToArray());
        var type = new Proto().Bytes(1, tensor.ToArray());
        return new Proto().String(1, name).Bytes(2, type.ToArray()).ToArray();
    }

    /// <summary>Minimal protobuf writer: varints and length-delimited fields.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _out = new();

        public Proto Varint(int field, ulong value)
        {
            WriteVarint(((ulong)field << 3) | 0);
            WriteVarint(value);
            return this;
        }

        public Proto Bytes(int field, byte[] value)
        {
            WriteVarint(((ulong)field << 3) | 2);
            WriteVarint((ulong)value.Length);
            _out.Write(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public byte[] ToArray() => _out.ToArray();

        private void WriteVarint(ulong v)
        {
            while (v >= 0x80)
            {
                _out.WriteByte((byte)(v | 0x80));
                v >>= 7;
            }

            _out.WriteByte((byte)v);
        }
    }
}
