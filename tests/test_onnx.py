"""Networks from ONNX: every supported op against onnxruntime, refusals by name, merging, round trips, layouts."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import moe_approx as ma  # noqa: E402
from moe_approx import onnx_io  # noqa: E402

from nets import dense_grid  # noqa: E402

RNG = np.random.default_rng(21)


def _model(nodes, consts, n, m, dtype="float64", in_shape=None, out_shape=None, inputs=("x",)):
    """A model with input(s) ``inputs`` of shape (N, n), output "y" of shape (N, m) and initializers ``consts``."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(name, elem, in_shape or ["N", n]) for name in inputs],
        [helper.make_tensor_value_info("y", elem, out_shape or ["N", m])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.int64 if k.startswith("shape") else dtype), k)
         for k, v in consts.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _ort(model, x):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _node(op, inputs, output, **attrs):
    return helper.make_node(op, inputs, [output], name=f"{op.lower()}_{output}", **attrs)


W1, B1, W2, B2 = RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal((4, 2)), RNG.standard_normal(2)
SLOPES = np.array([0.5, -0.25, 2.0, 0.0])

# (nodes, initializers, n, m, expected widths, expected activation): one case per supported op and form
CASES = {
    "gemm alpha beta transB": ([_node("Gemm", ["x", "Wt", "C"], "y", alpha=0.5, beta=-2.0, transB=1)],
                               {"Wt": W1.T, "C": B1}, 3, 4, (3, 4), "relu"),
    "gemm without C": ([_node("Gemm", ["x", "W"], "y")], {"W": W1}, 3, 4, (3, 4), "relu"),
    "matmul + add, relu": ([_node("MatMul", ["x", "W"], "z"), _node("Add", ["b", "z"], "h"), _node("Relu", ["h"], "r"),
                            _node("MatMul", ["r", "V"], "u"), _node("Add", ["u", "c"], "y")],
                           {"W": W1, "b": B1[None, :], "V": W2, "c": B2}, 3, 2, (3, 4, 2), "relu"),
    "sub, mul, div": ([_node("Sub", ["x", "mu"], "s"), _node("Div", ["s", "sd"], "t"), _node("Mul", ["k", "t"], "u"),
                       _node("Sub", ["one", "u"], "v"), _node("MatMul", ["v", "W"], "y")],
                      {"mu": [0.5, 0.2, 0.1], "sd": [2.0, 0.5, 4.0], "k": 3.0, "one": [1.0], "W": W1}, 3, 4, (3, 4), "relu"),
    "leaky relu": ([_node("Gemm", ["x", "W", "b"], "h"), _node("LeakyRelu", ["h"], "r", alpha=0.2),
                    _node("Gemm", ["r", "V", "c"], "y")], {"W": W1, "b": B1, "V": W2, "c": B2}, 3, 2, (3, 4, 2), "prelu"),
    "prelu per channel": ([_node("Gemm", ["x", "W", "b"], "h"), _node("PRelu", ["h", "a"], "r"),
                           _node("Gemm", ["r", "V", "c"], "y")], {"W": W1, "b": B1, "a": SLOPES, "V": W2, "c": B2},
                          3, 2, (3, 4, 2), "prelu"),
    "prelu shared slope": ([_node("Gemm", ["x", "W", "b"], "h"), _node("PRelu", ["h", "a"], "r"),
                            _node("Gemm", ["r", "V", "c"], "y")], {"W": W1, "b": B1, "a": [0.3], "V": W2, "c": B2},
                           3, 2, (3, 4, 2), "prelu"),
    "flatten, identity, reshape": ([_node("Flatten", ["x"], "f", axis=1), _node("Identity", ["f"], "i"),
                                    _node("Reshape", ["i", "shape0"], "r"), _node("Gemm", ["r", "W", "b"], "h"),
                                    _node("Reshape", ["h", "shape1"], "y")],
                                   {"shape0": [0, -1], "shape1": [-1, 4], "W": W1, "b": B1}, 3, 4, (3, 4), "relu"),
    "constant node": ([helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(W1, "W")),
                       _node("MatMul", ["x", "W"], "y")], {}, 3, 4, (3, 4), "relu"),
    "activation on input and output": ([_node("Relu", ["x"], "r"), _node("Gemm", ["r", "W", "b"], "h"),
                                        _node("Relu", ["h"], "s"), _node("LeakyRelu", ["s"], "y", alpha=0.1)],
                                       {"W": W1 - 0.5, "b": B1}, 3, 4, (3, 3, 4, 4, 4), "prelu"),
    "identity activation dropped": ([_node("Gemm", ["x", "W", "b"], "h"), _node("LeakyRelu", ["h"], "y", alpha=1.0)],
                                    {"W": W1, "b": B1}, 3, 4, (3, 4), "relu"),
}


@pytest.mark.parametrize("case", CASES)
def test_every_supported_op_computes_what_onnxruntime_computes(case):
    nodes, consts, n, m, widths, activation = CASES[case]
    model = _model(nodes, consts, n, m)
    net = ma.from_onnx(model, check=False)
    assert net.widths == widths and net.activation == activation
    x = np.concatenate([RNG.random((200, n)), 2 * RNG.standard_normal((200, n))])  # inside the cube and beyond
    np.testing.assert_allclose(np.asarray(net(x)), _ort(model, x), rtol=1e-13, atol=1e-13)
    ma.from_onnx(model, check=True)  # and the built-in check agrees


def test_unsupported_op_is_refused_by_name_with_the_supported_list():
    model = _model([_node("Gemm", ["x", "W"], "h"), helper.make_node("Sigmoid", ["h"], ["y"], name="foo")], {"W": W1}, 3, 4)
    with pytest.raises(ValueError, match=r"ONNX op 'Sigmoid' \(node 'foo'\) is not supported; supported: .*Gemm.*PRelu"):
        ma.from_onnx(model)
    squeeze = _model([_node("Squeeze", ["x"], "y")], {}, 3, 3)
    with pytest.raises(ValueError, match="ONNX op 'Squeeze'"):
        ma.from_onnx(squeeze)


@pytest.mark.parametrize("nodes, consts, m, match", [
    ([_node("Gemm", ["x", "W"], "y", transA=1)], {"W": np.ones((5, 5))}, 5, "transA=1"),
    ([_node("MatMul", ["W", "x"], "y")], {"W": np.ones((3, 3))}, 3, r"op\(x, constants"),
    ([_node("Relu", ["x"], "r"), _node("Add", ["r", "x"], "y")], {}, 3, r"op\(x, constants"),  # a skip connection
    ([_node("Div", ["c", "x"], "y")], {"c": [1.0]}, 3, r"op\(x, constants"),
    ([_node("Div", ["x", "c"], "y")], {"c": [1.0, 0.0, 2.0]}, 3, "division by a zero"),
    ([_node("Add", ["x", "c"], "y")], {"c": np.ones((2, 3))}, 3, r"constant of shape \(2, 3\)"),
    ([_node("PRelu", ["x", "a"], "y")], {"a": np.ones(2)}, 3, r"constant of shape \(2,\)"),
    ([_node("MatMul", ["x", "W"], "y")], {"W": np.ones((4, 3))}, 3, r"weight of shape \(4, 3\)"),
    ([_node("Flatten", ["x"], "y", axis=0)], {}, 3, "axis=0"),
    ([_node("Reshape", ["x", "shape"], "y")], {"shape": [1, -1]}, 3, r"shape \[1, -1\]"),
    ([_node("Reshape", ["x", "shape"], "y", allowzero=1)], {"shape": [0, 3]}, 3, r"shape \[0, 3\]"),
    ([_node("Add", ["c", "d"], "y")], {"c": [1.0], "d": [1.0]}, 1, "constants only"),
])
def test_forms_of_supported_ops_that_are_not_layers_are_refused(nodes, consts, m, match):
    with pytest.raises(ValueError, match=match):
        ma.from_onnx(_model(nodes, consts, 3, m), check=False)


def test_gemm_with_transB_reads_pytorch_weights_and_prelu_keeps_per_channel_slopes():
    w_torch, b = RNG.standard_normal((4, 3)).astype(np.float32), RNG.standard_normal(4).astype(np.float32)
    v_torch, c = RNG.standard_normal((1, 4)).astype(np.float32), RNG.standard_normal(1).astype(np.float32)
    nodes = [_node("Gemm", ["x", "W", "b"], "h", transB=1), _node("PRelu", ["h", "a"], "r"),
             _node("Gemm", ["r", "V", "c"], "y", transB=1)]
    net = ma.from_onnx(_model(nodes, {"W": w_torch, "b": b, "a": SLOPES, "V": v_torch, "c": c}, 3, 1, "float32"))
    assert np.array_equal(net.layers[0][0], w_torch.T.astype(np.float64))
    assert np.array_equal(net.layers[1][0], v_torch.T.astype(np.float64))
    assert np.array_equal(net.slopes[0], SLOPES.astype(np.float32).astype(np.float64)) and net.activation == "prelu"


def test_consecutive_affine_nodes_are_merged_exactly():
    w3, b3 = RNG.standard_normal((2, 5)), RNG.standard_normal(5)
    nodes = [_node("Gemm", ["x", "W", "b"], "h"), _node("Gemm", ["h", "V", "c"], "r"), _node("Relu", ["r"], "s"),
             _node("MatMul", ["s", "U"], "t"), _node("Add", ["t", "d"], "y")]
    model = _model(nodes, {"W": W1, "b": B1, "V": W2, "c": B2, "U": w3, "d": b3}, 3, 5)
    net = ma.from_onnx(model)
    assert net.widths == (3, 2, 5)
    assert np.array_equal(net.layers[0][0], W1 @ W2) and np.array_equal(net.layers[0][1], B1 @ W2 + B2)
    assert np.array_equal(net.layers[1][0], w3) and np.array_equal(net.layers[1][1], b3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float32_and_float64_models_import_their_weights_exactly(dtype):
    nodes = [_node("Gemm", ["x", "W", "b"], "h"), _node("Relu", ["h"], "r"), _node("Gemm", ["r", "V", "c"], "y")]
    model = _model(nodes, {"W": W1, "b": B1, "V": W2, "c": B2}, 3, 2, dtype)
    net = ma.from_onnx(model, check=True)
    assert all(np.asarray(w).dtype == np.float64 for w, _ in net.layers)
    assert np.array_equal(net.layers[0][0], W1.astype(dtype).astype(np.float64))
    assert np.array_equal(net.layers[1][1], B2.astype(dtype).astype(np.float64))


def test_the_check_catches_a_reader_that_disagrees_with_onnxruntime(monkeypatch):
    model = _model([_node("Gemm", ["x", "W", "b"], "h"), _node("Relu", ["h"], "y")], {"W": W1, "b": B1 - 1}, 3, 4)
    monkeypatch.setitem(onnx_io._OPS, "Relu", lambda node, args, attrs: args[0].activate(np.full(4, 0.5), True))
    assert ma.from_onnx(model, check=False).depth == 2
    with pytest.raises(ValueError, match="differs from onnxruntime"):
        ma.from_onnx(model)


def test_without_onnxruntime_the_default_skips_the_check_and_check_true_refuses(monkeypatch):
    model = _model([_node("MatMul", ["x", "W"], "y")], {"W": W1}, 3, 4)
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    assert ma.from_onnx(model).widths == (3, 4)
    with pytest.raises(ImportError, match="check=True needs onnxruntime"):
        ma.from_onnx(model, check=True)


def test_fixed_batch_size_is_checked_in_batches_of_that_size():
    model = _model([_node("MatMul", ["x", "W"], "y")], {"W": W1}, 3, 4, in_shape=[1, 3], out_shape=[1, 4])
    assert ma.from_onnx(model, check=True, points=5).widths == (3, 4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(out_shape=["N", 3]), r"declares output shape \('N', 3\) but its nodes compute 4"),
    (dict(in_shape=["N", 3, 1]), "must have shape \\(batch, features\\)"),
    (dict(out_shape=["N"]), "output 'y' must have shape"),
    (dict(dtype="int64"), "must be a float32 or float64 tensor, got INT64"),
    (dict(inputs=("x", "x2")), "one input and one output"),
])
def test_inputs_and_outputs_must_be_batch_by_features_floats(kwargs, match):
    consts = {"W": W1.astype(np.int64) if kwargs.get("dtype") else W1}
    with pytest.raises(ValueError, match=match):
        ma.from_onnx(_model([_node("MatMul", ["x", "W"], "y")], consts, 3, 4, **kwargs), check=False)


def test_arguments_are_validated():
    model = _model([_node("MatMul", ["x", "W"], "y")], {"W": W1}, 3, 4)
    with pytest.raises(TypeError, match="path_or_model"):
        ma.from_onnx(3)
    with pytest.raises(TypeError, match="check"):
        ma.from_onnx(model, check="yes")
    with pytest.raises(ValueError, match="points"):
        ma.from_onnx(model, points=0)
    with pytest.raises(ValueError, match="rtol"):
        ma.from_onnx(model, rtol=2.0)
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        ma.from_onnx(_model([_node("MatMul", ["x", "undefined"], "y")], {}, 3, 4))
    with pytest.raises(TypeError, match="net must be an MLP"):
        ma.to_onnx(model)
    stack = ma.build_moe(ma.targets.get("kink", n=1), ma.GridPartition(1, 2)).experts
    with pytest.raises(ValueError, match="stack"):
        ma.to_onnx(stack)
    with pytest.raises(ValueError, match="dtype"):
        ma.to_onnx(ma.from_onnx(model), dtype="float16")


@pytest.mark.parametrize("activation", ["relu", "prelu"])
def test_round_trip_to_onnx_and_back_is_bit_identical(activation, tmp_path):
    slopes = [RNG.uniform(-1, 1, 5), RNG.uniform(-1, 1, 4)] if activation == "prelu" else None
    widths = (3, 5, 4, 2)
    net = ma.MLP.from_arrays([RNG.standard_normal(s) for s in zip(widths[:-1], widths[1:])],
                             [RNG.standard_normal(d) for d in widths[1:]], activation, slopes)
    path = tmp_path / "net.onnx"
    model = ma.to_onnx(net, path)
    x = RNG.random((100, 3))
    np.testing.assert_allclose(_ort(model, x), np.asarray(net(x)), rtol=1e-13, atol=1e-13)
    for source in (path, str(path), path.read_bytes(), model):
        back = ma.from_onnx(source, check=True)
        assert back.activation == activation and back.widths == widths
        for (w, b), (v, c) in zip(net.layers, back.layers):
            assert np.array_equal(w, v) and np.array_equal(b, c)
        assert all(np.array_equal(a, s) for a, s in zip(net.slopes, back.slopes))
    rounded = ma.from_onnx(ma.to_onnx(net, dtype="float32"))
    assert np.array_equal(rounded.layers[0][0], np.asarray(net.layers[0][0], np.float32).astype(np.float64))


def test_sup_error_certifies_an_imported_network():
    target = ma.targets.get("cone", n=2)
    w, b = RNG.standard_normal((8, 2)), RNG.standard_normal(8)  # PyTorch (out, in) weights, transB=1
    v, c = RNG.standard_normal((1, 8)) / 4, RNG.standard_normal(1)
    nodes = [_node("Gemm", ["x", "W", "b"], "h", transB=1), _node("Relu", ["h"], "r"),
             _node("Gemm", ["r", "V", "c"], "y", transB=1)]
    net = ma.from_onnx(_model(nodes, {"W": w, "b": b, "V": v, "c": c}, 2, 1, "float32"))
    report = ma.sup_error(target, net, rtol=1e-3)
    grid = dense_grid(2, 200)
    numpy_net = np.maximum(grid @ w.astype(np.float32).T.astype(np.float64) + b.astype(np.float32), 0)
    numpy_net = numpy_net @ v.astype(np.float32).T.astype(np.float64) + c.astype(np.float32)
    grid_max = np.max(np.abs(np.asarray(target(grid)) - numpy_net[:, 0]))
    assert report.certified and report.lower <= report.upper <= report.lower * (1 + 1e-3) + 1e-12
    assert grid_max <= report.upper and report.lower <= grid_max * (1 + 1e-3) + 1e-12


# --- MLP.from_arrays layouts ----------------------------------------------------------------------


def test_layout_out_in_reads_pytorch_weights():
    torch_weights, biases = [W1.T, W2.T], [B1, B2]
    net = ma.MLP.from_arrays(torch_weights, biases, layout="out_in")
    assert all(np.array_equal(w, t.T) for (w, _), t in zip(net.layers, torch_weights))
    stacked = ma.MLP.from_arrays([np.stack([W1.T] * 3), W2.T], [np.stack([B1] * 3), B2], layout="out_in")
    assert stacked.batch_shape == (3,) and stacked.widths == (3, 4, 2)


def test_wrong_layout_errors_say_which_layout_the_shapes_fit():
    with pytest.raises(ValueError, match=r"weights look like \(out, in\) \(PyTorch/Equinox layout\): pass layout='out_in'"):
        ma.MLP.from_arrays([W1.T, W2.T], [B1, B2])
    with pytest.raises(ValueError, match=r"weights look like \(in, out\) .*: pass layout='in_out'"):
        ma.MLP.from_arrays([W1, W2], [B1, B2], layout="out_in")
    with pytest.raises(ValueError, match=r"biases\[1\]") as info:  # fits neither layout: no hint
        ma.MLP.from_arrays([W1, W2], [B1, np.zeros(3)])
    assert "look like" not in str(info.value)
    with pytest.raises(ValueError, match="layout must be one of"):
        ma.MLP.from_arrays([W1, W2], [B1, B2], layout="torch")


def test_square_layers_cannot_reveal_their_layout():
    w, b = RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    as_given, transposed = ma.MLP.from_arrays([w], [b]), ma.MLP.from_arrays([w], [b], layout="out_in")
    x = RNG.random((10, 3))
    np.testing.assert_allclose(np.asarray(as_given(x)), x @ w + b, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(transposed(x)), x @ w.T + b, rtol=1e-14)
