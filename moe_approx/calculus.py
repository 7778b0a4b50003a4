"""Network calculus with explicit weights (docs/theory.md §3).

Grohs, Hornung, Jentzen, Zimmermann 2023 (arXiv:1908.03833) §2; Petersen & Voigtlaender 2018
(arXiv:1709.05289) §2. Every operation returns a new :class:`~moe_approx.mlp.MLP` that computes
exactly the stated function. All arrays are float64 numpy arrays and may carry leading batch
(stack) axes, which broadcast: one call builds the networks of every cell at once.
"""

from __future__ import annotations

import math

import numpy as np

from .mlp import MLP, check_activation


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _joint_activation(*nets: MLP) -> str:
    """The activation of a combination: networks without hidden layers adopt the others'."""
    kinds = {net.activation for net in nets if net.depth > 1}
    if len(kinds) > 1:
        raise ValueError(f"cannot combine networks with different activations {sorted(kinds)}")
    return kinds.pop() if kinds else nets[0].activation


def _with_activation(net: MLP, activation: str) -> MLP:
    return net if net.activation == activation else MLP(net.layers, net.slopes, activation)


def affine(A, c, activation: str = "relu") -> MLP:
    """The depth-1 network ``x ↦ x @ A + c`` (A of shape (..., d_in, d_out), c of shape (..., d_out)).

    Parameters
    ----------
    A : array_like
        Weights, shape (..., d_in, d_out).
    c : array_like
        Bias, broadcastable to (..., d_out).
    activation : {"relu", "prelu"}, default "relu"
        The activation recorded for later combinations (the network itself has none).

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If A has fewer than two axes or ``activation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.affine(np.array([[2.0], [1.0]]), np.array([0.5]))
    >>> np.asarray(net(np.array([1.0, 3.0])))
    array([5.5])
    """
    A, c = _f64(A), _f64(c)
    if A.ndim < 2:
        raise ValueError(f"A must have shape (..., d_in, d_out), got {A.shape}")
    c = np.broadcast_to(c, np.broadcast_shapes(c.shape, A.shape[:-2] + A.shape[-1:])).copy()
    return MLP(((A, c),), (), check_activation(activation))


def _matmul(a, b) -> np.ndarray:
    """``a @ b``; a stack of matrices with a thin inner axis (e.g. 10^6 cell maps (L, n, n)) times a
    shared matrix as a sum of broadcast products: numpy's stacked matmul is several times slower."""
    a, b = _f64(a), _f64(b)
    if b.ndim == 2 and 0 < a.shape[-1] <= 4 and a.ndim > 2:
        out = a[..., 0:1] * b[0]
        for j in range(1, a.shape[-1]):
            out += a[..., j : j + 1] * b[j]
        return out
    return a @ b


def compose(outer: MLP, inner: MLP) -> MLP:
    """``outer ∘ inner``, merging inner's last affine map into outer's first (depth J_o + J_i − 1).

    Parameters
    ----------
    outer, inner : MLP
        ``outer.in_dim == inner.out_dim``; equal activations unless one is purely affine.

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If the dimensions do not match or the activations differ.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.compose(calculus.rectifier(1), calculus.affine(np.ones((2, 1)), -np.ones(1)))
    >>> net.depth, np.asarray(net(np.array([[0.2, 0.3], [1.0, 2.0]])))[:, 0]   # σ(x + y − 1)
    (2, array([0., 2.]))
    """
    if outer.in_dim != inner.out_dim:
        raise ValueError(f"compose: outer takes {outer.in_dim} inputs but inner returns {inner.out_dim}")
    activation = _joint_activation(outer, inner)
    (w_i, b_i), (w_o, b_o) = inner.layers[-1], outer.layers[0]
    merged = (_matmul(w_i, w_o), _matmul(b_i[..., None, :], w_o)[..., 0, :] + b_o)
    layers = inner.layers[:-1] + (merged,) + outer.layers[1:]
    return MLP(layers, inner.slopes + outer.slopes, activation)


def identity(d: int, depth: int = 1, activation: str = "relu") -> MLP:
    """The identity on R^d as a depth-``depth`` network (docs/theory.md §3).

    ReLU: t = σ(t) − σ(−t), hidden width 2d. PReLU: one neuron of slope 1 per channel, width d.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    depth : int, default 1
        Number of affine maps, >= 1.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If d < 1 or depth < 1, or ``activation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> relu, prelu = calculus.identity(2, 3), calculus.identity(2, 3, "prelu")
    >>> relu.width, prelu.width, np.asarray(relu(np.array([-1.5, 2.0])))
    (4, 2, array([-1.5,  2. ]))
    """
    check_activation(activation)
    if d < 1 or depth < 1:
        raise ValueError(f"identity needs d >= 1 and depth >= 1, got d={d}, depth={depth}")
    eye = np.eye(d)
    if depth == 1:
        return affine(eye, np.zeros(d), activation)
    if activation == "prelu":
        layers = [(eye, np.zeros(d))] * depth
        slopes = [np.ones(d)] * (depth - 1)
    else:
        split, join = np.hstack([eye, -eye]), np.vstack([eye, -eye])
        layers = [(split, np.zeros(2 * d))] + [(join @ split, np.zeros(2 * d))] * (depth - 2) + [(join, np.zeros(d))]
        slopes = [np.zeros(2 * d)] * (depth - 1)
    return MLP(tuple(layers), tuple(slopes), activation)


def rectifier(d: int, activation: str = "relu") -> MLP:
    """σ(x) = max(x, 0) coordinatewise on R^d: depth 2, width d (PReLU slopes 0).

    Parameters
    ----------
    d : int
        Dimension.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If ``activation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> np.asarray(calculus.rectifier(3)(np.array([-1.0, 0.0, 2.0])))
    array([0., 0., 2.])
    """
    check_activation(activation)
    eye = np.eye(d)
    return MLP(((eye, np.zeros(d)), (eye, np.zeros(d))), (np.zeros(d),), activation)


def absolute(d: int, activation: str = "relu") -> MLP:
    """|x| coordinatewise on R^d (docs/theory.md §3): PReLU slope a = −1, width d; ReLU |t| = σ(t) + σ(−t), width 2d.

    Parameters
    ----------
    d : int
        Dimension.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If ``activation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.absolute(2, "prelu")
    >>> net.width, np.asarray(net(np.array([-3.0, 2.0])))
    (2, array([3., 2.]))
    """
    check_activation(activation)
    eye = np.eye(d)
    if activation == "prelu":
        return MLP(((eye, np.zeros(d)), (eye, np.zeros(d))), (-np.ones(d),), activation)
    return MLP(((np.hstack([eye, -eye]), np.zeros(2 * d)), (np.vstack([eye, eye]), np.zeros(d))), (np.zeros(2 * d),), activation)


def extend(net: MLP, depth: int) -> MLP:
    """``net`` followed by an identity network so that the result has exactly ``depth`` layers.

    Parameters
    ----------
    net : MLP
    depth : int
        Target depth, >= ``net.depth``.

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If ``depth < net.depth``.

    Examples
    --------
    >>> from moe_approx import calculus
    >>> calculus.extend(calculus.rectifier(1), 4).depth
    4
    """
    if depth < net.depth:
        raise ValueError(f"cannot extend a depth-{net.depth} network to depth {depth}")
    if depth == net.depth:
        return net
    return compose(identity(net.out_dim, depth - net.depth + 1, net.activation), net)


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    batch = np.broadcast_shapes(*(b.shape[:-2] for b in blocks))
    rows, cols = sum(b.shape[-2] for b in blocks), sum(b.shape[-1] for b in blocks)
    out = np.zeros(batch + (rows, cols))
    r = c = 0
    for b in blocks:
        out[..., r : r + b.shape[-2], c : c + b.shape[-1]] = b
        r, c = r + b.shape[-2], c + b.shape[-1]
    return out


def _concat(arrays: list[np.ndarray], core: int = 1) -> np.ndarray:
    """Concatenate along the last axis, broadcasting the batch axes (all but the last ``core``)."""
    batch = np.broadcast_shapes(*(a.shape[: a.ndim - core] for a in arrays))
    return np.concatenate([np.broadcast_to(a, batch + a.shape[a.ndim - core :]) for a in arrays], axis=-1)


def parallel(*nets: MLP) -> MLP:
    """Same input, outputs stacked: ``x ↦ (Φ_1(x), ..., Φ_k(x))``.

    Shorter networks are first extended by identity layers to the common depth.

    Parameters
    ----------
    *nets : MLP
        Networks with the same input dimension.

    Returns
    -------
    MLP
        Output dimension Σ out_dim, depth max depth.

    Raises
    ------
    ValueError
        If no network is given, the input dimensions differ, or the activations differ.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.parallel(calculus.maximum(2), calculus.minimum(2))
    >>> np.asarray(net(np.array([4.0, -1.0])))
    array([ 4., -1.])
    """
    if not nets:
        raise ValueError("parallel needs at least one network")
    if len({net.in_dim for net in nets}) > 1:
        raise ValueError(f"parallel: input dimensions differ: {[net.in_dim for net in nets]}")
    activation = _joint_activation(*nets)
    depth = max(net.depth for net in nets)
    nets = [_with_activation(extend(_with_activation(net, activation), depth), activation) for net in nets]
    first_w = _concat([_f64(net.layers[0][0]) for net in nets], core=2)
    layers = [(first_w, _concat([_f64(net.layers[0][1]) for net in nets]))]
    for l in range(1, depth):
        layers.append(
            (_block_diag([_f64(net.layers[l][0]) for net in nets]), _concat([_f64(net.layers[l][1]) for net in nets]))
        )
    slopes = [_concat([_f64(net.slopes[l]) for net in nets]) for l in range(depth - 1)]
    return MLP(tuple(layers), tuple(slopes), activation)


def post_affine(net: MLP, A, c) -> MLP:
    """``x ↦ net(x) @ A + c``.

    Parameters
    ----------
    net : MLP
    A : array_like
        Shape (..., net.out_dim, d_out).
    c : array_like
        Shape (..., d_out).

    Returns
    -------
    MLP

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.post_affine(calculus.rectifier(1), np.array([[-2.0]]), np.array([1.0]))
    >>> np.asarray(net(np.array([3.0])))
    array([-5.])
    """
    return compose(affine(A, c, net.activation), net)


def pre_affine(net: MLP, A, c) -> MLP:
    """``x ↦ net(x @ A + c)``; e.g. rescaling a cell to the unit cube.

    Parameters
    ----------
    net : MLP
    A : array_like
        Shape (..., d_in, net.in_dim).
    c : array_like
        Shape (..., net.in_dim).

    Returns
    -------
    MLP

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.pre_affine(calculus.rectifier(1), np.array([[1.0]]), np.array([-0.5]))
    >>> np.asarray(net(np.array([2.0])))
    array([1.5])
    """
    return compose(net, affine(A, c, net.activation))


def linear_combination(nets, coefficients, offset=0.0) -> MLP:
    """``x ↦ Σ_i c_i Φ_i(x) + offset`` for networks with equal output dimension.

    Parameters
    ----------
    nets : sequence of MLP
        Networks with equal input and output dimensions.
    coefficients : array_like
        Shape (..., len(nets)); leading axes make a stack.
    offset : float or array_like, default 0.0

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If the output dimensions differ or the number of coefficients is wrong.

    Examples
    --------
    max(s, t) + min(s, t) = s + t:

    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.linear_combination([calculus.maximum(2), calculus.minimum(2)], np.array([1.0, 1.0]))
    >>> np.asarray(net(np.array([4.0, -1.0])))
    array([3.])
    """
    nets = list(nets)
    coefficients = _f64(coefficients)
    d = nets[0].out_dim
    if any(net.out_dim != d for net in nets) or coefficients.shape[-1:] != (len(nets),):
        raise ValueError("linear_combination needs one coefficient per network and equal output dimensions")
    stacked = parallel(*nets)
    A = np.kron(coefficients[..., :, None], np.eye(d)) if coefficients.ndim == 1 else (
        coefficients[..., :, None, None] * np.eye(d)
    ).reshape(coefficients.shape[:-1] + (len(nets) * d, d))
    return post_affine(stacked, A, np.broadcast_to(_f64(offset), A.shape[:-2] + (d,)))


def add(*nets: MLP) -> MLP:
    """``x ↦ Σ_i Φ_i(x)``.

    Parameters
    ----------
    *nets : MLP
        Networks with equal input and output dimensions.

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If the output dimensions differ.

    Examples
    --------
    σ(t) + σ(−t) = |t|, from two rectifiers:

    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> relu = calculus.rectifier(1)
    >>> neg = calculus.pre_affine(relu, -np.eye(1), np.zeros(1))
    >>> np.asarray(calculus.add(relu, neg)(np.array([-2.5])))
    array([2.5])
    """
    return linear_combination(nets, np.ones(len(nets)))


def scale(net: MLP, factor) -> MLP:
    """``x ↦ factor · Φ(x)`` (factor a scalar or a per-stack array).

    Parameters
    ----------
    net : MLP
    factor : float or array_like
        A scalar, or one factor per network of a stack.

    Returns
    -------
    MLP

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> np.asarray(calculus.scale(calculus.rectifier(1), 3.0)(np.array([2.0])))
    array([6.])
    """
    factor = _f64(factor)
    d = net.out_dim
    return post_affine(net, factor[..., None, None] * np.eye(d), np.zeros(factor.shape + (d,)))


def _pair_extremum(sign: float, activation: str) -> MLP:
    """max(s, t) = s + σ(t − s) (sign=+1), min(s, t) = s − σ(s − t) (sign=−1), on input (s, t)."""
    if activation == "prelu":  # carry s through a slope-1 neuron
        w1 = np.array([[1.0, -sign], [0.0, sign]])
        return MLP(((w1, np.zeros(2)), (np.array([[1.0], [sign]]), np.zeros(1))), (np.array([1.0, 0.0]),), "prelu")
    w1 = np.array([[1.0, -1.0, -sign], [0.0, 0.0, sign]])
    return MLP(((w1, np.zeros(3)), (np.array([[1.0], [-1.0], [sign]]), np.zeros(1))), (np.zeros(3),), "relu")


def _extremum_tree(m: int, sign: float, activation: str) -> MLP:
    check_activation(activation)
    if m < 1:
        raise ValueError(f"need m >= 1 inputs, got {m}")
    net = identity(m, 1, activation)
    while net.out_dim > 1:
        k = net.out_dim
        pieces = [pre_affine(_pair_extremum(sign, activation), _select(k, [2 * i, 2 * i + 1]), np.zeros(2)) for i in range(k // 2)]
        if k % 2:
            pieces.append(pre_affine(identity(1, 2, activation), _select(k, [k - 1]), np.zeros(1)))
        net = compose(parallel(*pieces), net)
    return net


def _select(k: int, coordinates: list[int]) -> np.ndarray:
    """The matrix of ``x ↦ x[coordinates]`` on R^k."""
    A = np.zeros((k, len(coordinates)))
    A[coordinates, np.arange(len(coordinates))] = 1.0
    return A


def maximum(m: int, activation: str = "relu") -> MLP:
    """max of m numbers by a pairwise tree: depth ⌈log₂ m⌉ + 1 (docs/theory.md §3).

    max(s, t) = s + σ(t − s); ReLU carries s as σ(s) − σ(−s), PReLU with one slope-1 neuron.

    Parameters
    ----------
    m : int
        Number of inputs, >= 1.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If m < 1 or ``activation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> net = calculus.maximum(5)
    >>> net.depth, np.asarray(net(np.array([0.5, -1.0, 7.0, 2.0, 3.0])))
    (4, array([7.]))
    """
    return _extremum_tree(m, 1.0, activation)


def minimum(m: int, activation: str = "relu") -> MLP:
    """min of m numbers by a pairwise tree: depth ⌈log₂ m⌉ + 1 (docs/theory.md §3).

    min(s, t) = s − σ(s − t).

    Parameters
    ----------
    m : int
        Number of inputs, >= 1.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If m < 1 or ``activation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> np.asarray(calculus.minimum(3, "prelu")(np.array([0.5, -1.0, 7.0])))
    array([-1.])
    """
    return _extremum_tree(m, -1.0, activation)


def tree_depth(m: int) -> int:
    """Depth ⌈log₂ m⌉ + 1 of :func:`maximum` / :func:`minimum` on m ≥ 2 inputs (1 for m = 1).

    Parameters
    ----------
    m : int
        Number of inputs, >= 1.

    Returns
    -------
    int

    Examples
    --------
    >>> from moe_approx import calculus
    >>> [calculus.tree_depth(m) for m in (1, 2, 3, 4, 5, 8, 9)]
    [1, 2, 3, 3, 4, 4, 5]
    >>> calculus.tree_depth(9) == calculus.maximum(9).depth
    True
    """
    return math.ceil(math.log2(m)) + 1 if m > 1 else 1
