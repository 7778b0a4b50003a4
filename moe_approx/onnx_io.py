"""Networks from ONNX, the exchange format of network verification (docs/theory.md §2).

::

    import moe_approx as ma
    net = ma.from_onnx("net.onnx")       # an MLP; checked against onnxruntime when it is installed
    report = ma.sup_error(target, net)   # certified bracket of sup |f - net| (docs/theory.md §5)
    ma.to_onnx(net, "copy.onnx")         # and back: Gemm, Relu / PRelu

**Precision.** A float32 file is read exactly into float64: the MLP computes in float64
(docs/theory.md §2); a certificate covers that network with the file's weights, not float32 inference.

**What is read.** One float32 or float64 input of shape (batch, n), one output of shape
(batch, m), and between them a chain of nodes, each taking exactly one tensor computed from the
input (no skip connections) and otherwise constants (initializers or ``Constant`` nodes):

- affine: ``Gemm`` (``alpha``, ``beta``, ``transB``; ``transA`` must be 0, it would transpose the
  batch axis), ``MatMul`` by a constant matrix, ``Add``/``Sub`` of a constant vector, ``Mul`` by and
  ``Div`` by a constant vector (input normalisation);
- activations σ_a: ``Relu`` (a = 0), ``LeakyRelu`` (a = ``alpha``), ``PRelu`` (a constant slope, one
  shared or one per feature); a = 1 everywhere is the identity and is dropped;
- no-ops: ``Identity``, ``Flatten`` (axis 1), ``Reshape`` to (batch, width) (shape ``[0, d]``,
  ``[-1, d]``, ``[0, -1]``, ...). ``Squeeze``/``Unsqueeze`` change the rank and are refused.

Anything else is refused by name. Consecutive affine nodes are merged in float64 (W = W₁W₂,
b = b₁W₂ + b₂); an activation with no affine node before it (on the input, or right after
another activation) gets the identity layer (I, 0), and one on the output is followed by the
identity layer, so the MLP computes the graph's map exactly. The result's ``activation`` is
``"prelu"`` when the graph has a LeakyRelu or PRelu, else ``"relu"``.

**Check.** With onnxruntime installed (``check=None``, the default) or required (``check=True``),
the MLP and onnxruntime evaluate the model at random points of [0,1]^n; they must agree to
``rtol`` (1e-6 for float32 models, 1e-12 for float64 ones) times the same network with |W|, |b|
and |σ| evaluated at |x| — the size of the terms whose rounding both sides see.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from .mlp import MLP

_RTOL = {"float32": 1e-6, "float64": 1e-12}


class _Chain(NamedTuple):
    """The map computed so far: finished layers with their slopes, then x ↦ x·w + b (w None = I)."""

    width: int
    layers: tuple = ()
    slopes: tuple = ()
    w: np.ndarray | None = None
    b: np.ndarray | None = None
    prelu: bool = False

    def affine(self, a, c) -> "_Chain":
        """Compose with x ↦ x·a + c (a None = I), merging into the pending affine map."""
        w = self.w if a is None else (a if self.w is None else self.w @ a)
        b = None if self.b is None else (self.b if a is None else self.b @ a)
        b = c if b is None else b + c
        return self._replace(width=len(b), w=w, b=b)

    def activate(self, slope, prelu: bool) -> "_Chain":
        """Compose with σ_a, a = ``slope`` per feature; the pending map becomes a finished layer."""
        if np.all(slope == 1.0):
            return self
        layer = self.pending()
        return _Chain(self.width, self.layers + (layer,), self.slopes + (slope,), prelu=self.prelu or prelu)

    def pending(self):
        """The pending affine map as a layer (W, b)."""
        return (np.eye(self.width) if self.w is None else self.w), (np.zeros(self.width) if self.b is None else self.b)


def _node_name(node) -> str:
    return node.name or f"output {node.output[0]}"


def _refuse(node, why: str) -> ValueError:
    return ValueError(f"ONNX node {_node_name(node)!r} ({node.op_type}): {why}")


def _vector(node, c, d: int) -> np.ndarray:
    """A constant of one value per feature (or one for all) as a (d,) float64 vector."""
    c = np.asarray(c, dtype=np.float64)
    if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1) or (c.ndim and c.shape[-1] not in (1, d)):
        raise _refuse(node, f"constant of shape {c.shape} is not one value per feature (width {d}) or one for all")
    return np.broadcast_to(c.reshape(c.shape[-1:]), (d,)).copy()


def _matrix(node, w, d: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != d:
        raise _refuse(node, f"weight of shape {w.shape} does not map the {d} features of its input")
    return w


def _split(node, args):
    """The one chain among a node's inputs and whether it comes first (only Add, Sub, Mul may take it second)."""
    chains = [i for i, a in enumerate(args) if isinstance(a, _Chain)]
    if chains != [0] and not (node.op_type in ("Add", "Sub", "Mul") and chains == [1]):
        raise _refuse(node, "only the form op(x, constants...) of a feed-forward layer is supported")
    return args[chains[0]], chains[0] == 0


def _gemm(node, args, attrs):
    x, _ = _split(node, args)
    if attrs.get("transA", 0):
        raise _refuse(node, "transA=1 transposes the batch axis; not a layer")
    w = args[1].T if attrs.get("transB", 0) else args[1]
    w = attrs.get("alpha", 1.0) * _matrix(node, w, x.width)
    if len(args) < 3 or args[2] is None:
        return x.affine(w, np.zeros(w.shape[1]))
    return x.affine(w, attrs.get("beta", 1.0) * _vector(node, args[2], w.shape[1]))


def _matmul(node, args, attrs):
    x, _ = _split(node, args)
    w = _matrix(node, args[1], x.width)
    return x.affine(w, np.zeros(w.shape[1]))


def _elementwise(node, args, attrs):
    x, x_first = _split(node, args)
    c = _vector(node, args[1] if x_first else args[0], x.width)
    if node.op_type == "Add":
        return x.affine(None, c)
    if node.op_type == "Sub":
        return x.affine(None, -c) if x_first else x.affine(-np.eye(x.width), c)
    if node.op_type == "Div" and not np.all(c):
        raise _refuse(node, "division by a zero constant")
    return x.affine(np.diag(c if node.op_type == "Mul" else 1.0 / c), np.zeros(x.width))


def _relu(node, args, attrs):
    x, _ = _split(node, args)
    return x.activate(np.zeros(x.width), prelu=False)


def _leaky_relu(node, args, attrs):
    x, _ = _split(node, args)
    return x.activate(np.full(x.width, float(attrs.get("alpha", 0.01))), prelu=True)


def _prelu(node, args, attrs):
    x, _ = _split(node, args)
    return x.activate(_vector(node, args[1], x.width), prelu=True)


def _identity(node, args, attrs):
    x, _ = _split(node, args)
    return x


def _flatten(node, args, attrs):
    if attrs.get("axis", 1) not in (1, -1):
        raise _refuse(node, f"axis={attrs['axis']} mixes the batch axis with the features; only axis=1 is a no-op")
    return _identity(node, args, attrs)


def _reshape(node, args, attrs):
    x, _ = _split(node, args)
    shape = [int(s) for s in np.ravel(args[1])]
    copy = not attrs.get("allowzero", 0)  # 0 copies the input's dimension
    if len(shape) != 2 or not (shape[0] == -1 or (copy and shape[0] == 0)) or not (
            shape[1] == x.width or (copy and shape[1] == 0) or (shape[1] == -1 and shape[0] != -1)):
        raise _refuse(node, f"shape {shape} is not (batch, {x.width}): only a no-op reshape is supported")
    return x


_OPS = {"Gemm": _gemm, "MatMul": _matmul, "Add": _elementwise, "Sub": _elementwise, "Mul": _elementwise,
        "Div": _elementwise, "Relu": _relu, "LeakyRelu": _leaky_relu, "PRelu": _prelu, "Identity": _identity,
        "Flatten": _flatten, "Reshape": _reshape, "Constant": None}


def _dims(value_info) -> tuple:
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in value_info.type.tensor_type.shape.dim)


def _float_tensor(value_info, role: str) -> str:
    """'float32' or 'float64' for a rank-2 float tensor; ValueError naming ``role`` otherwise."""
    from onnx import TensorProto

    kinds = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}
    elem = value_info.type.tensor_type.elem_type
    if elem not in kinds:
        raise ValueError(f"the graph's {role} {value_info.name!r} must be a float32 or float64 tensor, "
                         f"got {TensorProto.DataType.Name(elem)}")
    dims = _dims(value_info)
    if len(dims) != 2 or (role == "input" and not isinstance(dims[1], int)):
        raise ValueError(f"the graph's {role} {value_info.name!r} must have shape (batch, features), got {dims}")
    return kinds[elem]


def _constant(node) -> np.ndarray:
    from onnx import TensorProto, helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if len(attrs) != 1 or next(iter(attrs)) not in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        raise _refuse(node, f"only numeric constants are supported, got attributes {sorted(attrs)}")
    value = next(iter(attrs.values()))
    return numpy_helper.to_array(value) if isinstance(value, TensorProto) else np.asarray(value)


def _load(path_or_model):
    import onnx

    if isinstance(path_or_model, onnx.ModelProto):
        model = path_or_model
    elif isinstance(path_or_model, (str, os.PathLike)):
        model = onnx.load(os.fspath(path_or_model))
    elif isinstance(path_or_model, bytes):
        model = onnx.load_model_from_string(path_or_model)
    else:
        raise TypeError(f"path_or_model must be a path, bytes or an onnx.ModelProto, got {type(path_or_model).__name__}")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ValueError(f"path_or_model is not a valid ONNX model: {exc}") from None
    return model


def _read(graph):
    """The chain computed by ``graph``, its input (a ValueInfoProto) and its dtype (module docstring)."""
    from onnx import helper, numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in values]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(f"the graph must have one input and one output (besides initializers), got inputs "
                         f"{[v.name for v in inputs]} and outputs {[v.name for v in graph.output]}")
    dtype = _float_tensor(inputs[0], "input")
    values[inputs[0].name] = _Chain(_dims(inputs[0])[1])
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in _OPS:
            raise ValueError(f"ONNX op {node.op_type!r} (node {_node_name(node)!r}) is not supported; "
                             f"supported: {', '.join(sorted(_OPS))}")
        if node.op_type == "Constant":
            values[node.output[0]] = _constant(node)
            continue
        if len(node.output) != 1:
            raise _refuse(node, "optional outputs are not supported")
        if not any(isinstance(values.get(i), _Chain) for i in node.input):
            raise _refuse(node, "computes from constants only; fold constants first (e.g. with onnx-simplifier)")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        values[node.output[0]] = _OPS[node.op_type](node, [values.get(i) if i else None for i in node.input], attrs)
    out = graph.output[0]
    _float_tensor(out, "output")
    chain = values.get(out.name)
    if not isinstance(chain, _Chain):
        raise ValueError(f"the graph's output {out.name!r} is not computed from its input")
    if isinstance(_dims(out)[1], int) and _dims(out)[1] != chain.width:
        raise ValueError(f"the graph declares output shape {_dims(out)} but its nodes compute {chain.width} features")
    return chain, inputs[0], dtype


def _magnitude(net: MLP, x: np.ndarray) -> np.ndarray:
    """The network with |W|, |b| and |σ_a| ≤ max(1, |a|)·|t| at |x|: the size of the terms of net(x)."""
    h = np.abs(x)
    for l, (w, b) in enumerate(net.layers):
        h = h @ np.abs(np.asarray(w)) + np.abs(np.asarray(b))
        if l < len(net.slopes):
            h = h * np.maximum(1.0, np.abs(np.asarray(net.slopes[l])))
    return h


def _check(model, net: MLP, source, dtype: str, rtol: float, points: int, seed: int) -> None:
    """ValueError unless ``net`` agrees with onnxruntime on ``model`` (module docstring)."""
    import onnxruntime

    batch = _dims(source)[0]
    step = batch if isinstance(batch, int) and batch > 0 else points  # a fixed batch size is fed as it is
    x = np.random.default_rng(seed).random((max(1, points // step) * step, net.in_dim)).astype(dtype)
    try:
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        y = np.concatenate([session.run(None, {source.name: x[i: i + step]})[0] for i in range(0, len(x), step)])
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own exception types)
        raise ValueError(f"onnxruntime could not run the model to check it: {exc}") from None
    x = x.astype(np.float64)
    ours = np.asarray(net(x))
    if y.shape != ours.shape:
        raise ValueError(f"onnxruntime's output has shape {y.shape}, the imported network's {ours.shape}")
    excess = np.abs(ours - y.astype(np.float64)) - rtol * _magnitude(net, x)
    if np.max(excess) > 0:
        i = np.unravel_index(np.argmax(excess), excess.shape)
        raise ValueError(f"the imported network differs from onnxruntime at x = {x[i[0]]}: {ours[i]} vs {y[i]} "
                         f"(rtol {rtol:g}); the graph has semantics this reader does not model")


def from_onnx(path_or_model, *, check: bool | None = None, rtol: float | None = None, points: int = 256,
              seed: int = 0) -> MLP:
    """The feed-forward (P)ReLU network of an ONNX model as an :class:`~moe_approx.MLP` (docs/theory.md §2).

    Parameters
    ----------
    path_or_model : str, os.PathLike, bytes or onnx.ModelProto
        The model: a file, its serialised bytes, or the loaded protobuf.
    check : bool or None, default None
        Compare with onnxruntime at ``points`` random points of [0,1]^n (module docstring): None
        when onnxruntime is installed, True always (ImportError without it), False never.
    rtol : float, optional
        Tolerance of the check; default 1e-6 for a float32 model, 1e-12 for a float64 one.
    points, seed : int
        Number of random points of the check and the seed that draws them.

    Returns
    -------
    MLP
        float64 weights in the (in, out) convention; one (batch, n) → (batch, m) map.

    Raises
    ------
    ValueError
        For an unsupported op (named with its node and the supported list), a form of a supported op
        that is not a layer, input or output shapes other than (batch, n) / (batch, m), or a failed check.

    Examples
    --------
    >>> import moe_approx as ma
    >>> model = ma.to_onnx(ma.calculus.absolute(1, "relu"))      # |x| = σ(x) + σ(−x)
    >>> [node.op_type for node in model.graph.node]
    ['Gemm', 'Relu', 'Gemm']
    >>> ma.from_onnx(model)
    MLP(widths=(1, 2, 1), activation='relu')
    """
    if check not in (None, True, False):
        raise TypeError(f"check must be None, True or False, got {check!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ValueError(f"points must be a positive int, got {points!r}")
    if rtol is not None and not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise ValueError(f"rtol must be in (0, 1), got {rtol!r}")
    model = _load(path_or_model)
    chain, source, dtype = _read(model.graph)
    layers = chain.layers + (chain.pending(),)
    net = MLP.from_arrays([w for w, _ in layers], [b for _, b in layers], "prelu" if chain.prelu else "relu",
                          list(chain.slopes) if chain.prelu else None)
    if check is not False:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            if check:
                raise ImportError("check=True needs onnxruntime (pip install onnxruntime)") from None
            return net
        _check(model, net, source, dtype, _RTOL[dtype] if rtol is None else rtol, points, seed)
    return net


def to_onnx(net: MLP, path=None, *, dtype: str = "float64"):
    """An ONNX model of ``net``: Gemm per layer, Relu or PRelu between (docs/theory.md §2).

    Parameters
    ----------
    net : MLP
        One network (not a stack).
    path : str or os.PathLike, optional
        Where to save the model.
    dtype : {"float64", "float32"}
        Type of the input, output and weights (float32 rounds the weights).

    Returns
    -------
    onnx.ModelProto
        Input ``"x"`` of shape (batch, n), output ``"y"`` of shape (batch, m); opset 17.
    """
    import onnx
    from onnx import helper, numpy_helper

    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP, got {type(net).__name__}")
    if net.batch_shape:
        raise ValueError(f"net must be one network, got a stack of shape {net.batch_shape}")
    if dtype not in _RTOL:
        raise ValueError(f"dtype must be one of {tuple(_RTOL)}, got {dtype!r}")
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    tensors, nodes, h = [], [], "x"
    for l, (w, b) in enumerate(net.layers):
        tensors += [numpy_helper.from_array(np.asarray(w, dtype), f"W{l}"), numpy_helper.from_array(np.asarray(b, dtype), f"b{l}")]
        out = "y" if l == net.depth - 1 else f"z{l}"
        nodes.append(helper.make_node("Gemm", [h, f"W{l}", f"b{l}"], [out], name=f"layer{l}"))
        h = out
        if l < len(net.slopes):
            if net.activation == "relu":
                nodes.append(helper.make_node("Relu", [h], [f"h{l}"], name=f"relu{l}"))
            else:
                tensors.append(numpy_helper.from_array(np.asarray(net.slopes[l], dtype), f"a{l}"))
                nodes.append(helper.make_node("PRelu", [h, f"a{l}"], [f"h{l}"], name=f"prelu{l}"))
            h = f"h{l}"
    graph = helper.make_graph(nodes, "moe_approx_mlp", [helper.make_tensor_value_info("x", elem, ["batch", net.in_dim])],
                              [helper.make_tensor_value_info("y", elem, ["batch", net.out_dim])], tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="moe_approx",
                              ir_version=8)
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model
