"""Explicit (P)ReLU multilayer perceptrons as JAX pytrees (docs/theory.md §2).

An MLP of depth J is J affine maps ``x ↦ x @ W_l + b_l`` with the PReLU activation
``σ_a(t) = max(t, 0) + a·min(t, 0)`` between consecutive ones; ``a`` is stored per hidden
neuron (0 = ReLU, 1 = identity, −1 = absolute value).

Arrays may carry leading *batch* axes: a stack of L networks of one architecture stores
``W_l`` with shape ``(L, d_{l-1}, d_l)``. Layers shared by every network of the stack may
stay unbatched (shape ``(d_{l-1}, d_l)``); they broadcast. A stacked MLP maps inputs of
shape ``batch + (P, d_0)`` to ``batch + (P, d_J)``; an unbatched one maps ``(..., d_0)`` to
``(..., d_J)``.

Counting convention (docs/theory.md §2): ``num_params`` counts every stored weight and bias of
one network; a ``"prelu"`` network also counts one slope per hidden neuron (its slopes are
parameters of the architecture), a ``"relu"`` network none (its slopes are fixed at 0).
``num_nonzero`` counts the nonzero ones (Petersen & Voigtlaender 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = ("relu", "prelu")
LAYOUTS = ("in_out", "out_in")
_LAYOUT_SHAPES = {"in_out": "(in, out)", "out_in": "(out, in)"}
_LAYOUT_USERS = {"in_out": "Flax, JAX, numpy layout", "out_in": "PyTorch/Equinox layout"}


def check_activation(activation: str) -> str:
    """Return ``activation`` if it is one of :data:`ACTIVATIONS`, else raise ``ValueError``.

    Parameters
    ----------
    activation : str
        ``"relu"`` or ``"prelu"``.

    Returns
    -------
    str
        ``activation`` unchanged.

    Raises
    ------
    ValueError
        For any other value.

    Examples
    --------
    >>> from moe_approx.mlp import check_activation
    >>> check_activation("prelu")
    'prelu'
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def _batch_shape(a, core_ndim: int) -> tuple[int, ...]:
    return tuple(np.shape(a)[: np.ndim(a) - core_ndim])


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True, eq=False)
class MLP:
    """A (stack of) explicit (P)ReLU network(s): ``layers`` = ((W, b), ...), ``slopes`` per hidden layer.

    The network is x ↦ x W_1 + b_1 ↦ σ_a ↦ … ↦ x W_J + b_J, with σ_a(t) = max(t, 0) + a·min(t, 0)
    and one slope a per hidden neuron (docs/theory.md §2). An MLP is an immutable JAX pytree.

    Parameters
    ----------
    layers : sequence of (W, b)
        W of shape (..., d_in, d_out), b of shape (..., d_out); leading axes are stack axes.
    slopes : sequence of arrays
        One array of shape (..., d_l) per hidden layer (``len(layers) - 1`` arrays); 0 is ReLU.
    activation : {"relu", "prelu"}, default "relu"
        A ``"relu"`` network must have all slopes 0; ``"prelu"`` counts its slopes as parameters.

    Raises
    ------
    ValueError
        If the shapes do not chain, the slopes do not match the hidden layers, or a ``"relu"``
        network has a nonzero slope.

    Examples
    --------
    |x| = σ(x) + σ(−x) as a ReLU network of depth 2 and width 2:

    >>> import numpy as np
    >>> from moe_approx import MLP
    >>> net = MLP(((np.array([[1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))), (np.zeros(2),))
    >>> net
    MLP(widths=(1, 2, 1), activation='relu')
    >>> np.asarray(net(np.array([[-3.0], [2.0]])))[:, 0]
    array([3., 2.])
    >>> net.depth, net.width, net.num_params, net.num_nonzero
    (2, 2, 7, 4)
    """

    layers: tuple
    slopes: tuple
    activation: str = "relu"

    def __post_init__(self):
        check_activation(self.activation)
        layers = tuple((w, b) for w, b in self.layers)
        slopes = tuple(self.slopes)
        if not layers:
            raise ValueError("layers must hold at least one (W, b) pair")
        if len(slopes) != len(layers) - 1:
            raise ValueError(f"slopes must have one entry per hidden layer ({len(layers) - 1}), got {len(slopes)}")
        for l, (w, b) in enumerate(layers):
            if np.ndim(w) < 2 or np.ndim(b) < 1 or np.shape(w)[-1] != np.shape(b)[-1]:
                raise ValueError(f"layer {l}: W must be (..., d_in, d_out) and b (..., d_out); got {np.shape(w)}, {np.shape(b)}")
            if l and np.shape(w)[-2] != np.shape(layers[l - 1][0])[-1]:
                raise ValueError(f"layer {l}: input width {np.shape(w)[-2]} != previous output width {np.shape(layers[l - 1][0])[-1]}")
        for l, a in enumerate(slopes):
            if np.shape(a)[-1:] != np.shape(layers[l][1])[-1:]:
                raise ValueError(f"slopes[{l}] must have one slope per neuron of hidden layer {l}")
        if self.activation == "relu" and any(isinstance(a, np.ndarray) and np.any(a) for a in slopes):
            raise ValueError("a 'relu' MLP must have all slopes 0; use activation='prelu'")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "slopes", slopes)

    # --- networks from anywhere ----------------------------------------------------------
    @classmethod
    def from_arrays(cls, weights, biases, activation: str = "relu", slopes=None, layout: str = "in_out") -> "MLP":
        """An MLP from plain arrays: ``x ↦ x @ W_l + b_l`` with σ_a between layers (docs/theory.md §2).

        With ``layout="in_out"`` (default) ``weights[l]`` has shape ``(d_l, d_{l+1})`` (leading stack
        axes allowed); with ``layout="out_in"`` it has shape ``(d_{l+1}, d_l)`` and is transposed.
        ``biases[l]`` has shape ``(d_{l+1},)``. ``slopes`` (``"prelu"`` only): one array or scalar per
        hidden layer, a scalar meaning one shared slope. Arrays are copied to float64 numpy arrays.

        PyTorch ``nn.Linear`` and Equinox ``eqx.nn.Linear`` store ``weight`` as (out, in): pass
        ``weights = [m.weight.detach().numpy() for m in linears]``, ``biases = [m.bias.detach().numpy()
        for m in linears]`` with ``layout="out_in"``, and for ``nn.PReLU`` ``slopes = [p.weight.detach()
        .numpy() for p in prelus]``. Flax ``nn.Dense`` stores ``params["Dense_l"]["kernel"]`` as (in,
        out): the default layout. When the shapes only chain in the other layout the error says so;
        a network whose layers are all square chains in both, so its layout cannot be detected and
        must be given.
        """
        check_activation(activation)
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        weights, biases = _as_layer_list(weights, "weights"), _as_layer_list(biases, "biases")
        if len(weights) != len(biases):
            raise ValueError(f"weights and biases must have one entry per layer; got {len(weights)} and {len(biases)}")
        if not weights:
            raise ValueError("weights must hold at least one layer")
        weights = [_real_array(w, f"weights[{l}]") for l, w in enumerate(weights)]
        biases = [_real_array(b, f"biases[{l}]") for l, b in enumerate(biases)]
        for l, (w, b) in enumerate(zip(weights, biases)):
            if w.ndim < 2 or b.ndim < 1:
                raise ValueError(f"weights[{l}] must be a matrix and biases[{l}] a vector; got {w.shape}, {b.shape}")
        if layout == "out_in":
            weights = [np.swapaxes(w, -1, -2) for w in weights]
        problem = _chain_problem(weights, biases, layout)
        if problem:
            other = LAYOUTS[1 - LAYOUTS.index(layout)]
            if _chain_problem([np.swapaxes(w, -1, -2) for w in weights], biases, other) is None:
                problem += f"; the weights look like {_LAYOUT_SHAPES[other]} ({_LAYOUT_USERS[other]}): pass layout={other!r}"
            raise ValueError(problem)
        layers = list(zip(weights, biases))
        hidden = [w.shape[-1] for w, _ in layers[:-1]]
        if activation == "relu":
            if slopes is not None and any(np.any(_real_array(a, f"slopes[{l}]")) for l, a in enumerate(slopes)):
                raise ValueError("slopes must be None (or all 0) for activation='relu'; use activation='prelu'")
            slopes = [np.zeros(d) for d in hidden]
        else:
            if slopes is None:
                raise ValueError(f"activation='prelu' needs slopes: one array or scalar per hidden layer ({len(hidden)})")
            slopes = _as_layer_list(slopes, "slopes")
            if len(slopes) != len(hidden):
                raise ValueError(f"slopes must have one entry per hidden layer ({len(hidden)}), got {len(slopes)}")
            slopes = [_real_array(a, f"slopes[{l}]") for l, a in enumerate(slopes)]
            for l, (a, d) in enumerate(zip(slopes, hidden)):
                if a.ndim and a.shape[-1] not in (1, d):
                    raise ValueError(f"slopes[{l}] must be a scalar or have {d} entries (hidden layer {l}), got {a.shape}")
            # a shared slope (scalar, or PyTorch's nn.PReLU() with one parameter) per neuron
            slopes = [np.broadcast_to(a, a.shape[:-1] + (d,)).copy() if a.ndim else np.full(d, float(a))
                      for a, d in zip(slopes, hidden)]
        return cls(tuple(layers), tuple(slopes), activation)

    def to_arrays(self) -> dict:
        """``{"weights", "biases", "activation", "slopes"}`` as float64 numpy arrays; the inverse of
        :meth:`from_arrays`: ``MLP.from_arrays(**net.to_arrays())`` (``slopes`` is None for ReLU)."""
        return {"weights": [np.array(w, dtype=np.float64) for w, _ in self.layers],
                "biases": [np.array(b, dtype=np.float64) for _, b in self.layers],
                "activation": self.activation,
                "slopes": None if self.activation == "relu" else [np.array(a, dtype=np.float64) for a in self.slopes]}

    # --- pytree -----------------------------------------------------------------------
    def tree_flatten(self):
        return (self.layers, self.slopes), self.activation

    @classmethod
    def tree_unflatten(cls, activation, children):
        obj = object.__new__(cls)
        object.__setattr__(obj, "layers", tuple(tuple(p) for p in children[0]))
        object.__setattr__(obj, "slopes", tuple(children[1]))
        object.__setattr__(obj, "activation", activation)
        return obj

    # --- architecture -----------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Number of affine maps J.

        Examples
        --------
        >>> from moe_approx import calculus
        >>> calculus.maximum(4).depth       # ⌈log₂ 4⌉ + 1
        3
        """
        return len(self.layers)

    @property
    def widths(self) -> tuple[int, ...]:
        """(d_0, d_1, ..., d_J): input, hidden and output widths.

        Examples
        --------
        >>> from moe_approx import calculus
        >>> calculus.identity(3, depth=3).widths          # ReLU: t = σ(t) − σ(−t)
        (3, 6, 6, 3)
        """
        return (np.shape(self.layers[0][0])[-2],) + tuple(np.shape(w)[-1] for w, _ in self.layers)

    @property
    def width(self) -> int:
        """Largest hidden layer (0 for a depth-1, purely affine network).

        Examples
        --------
        >>> from moe_approx import calculus
        >>> calculus.identity(3, depth=3, activation="prelu").width
        3
        """
        return max(self.widths[1:-1], default=0)

    @property
    def in_dim(self) -> int:
        """Input dimension d_0."""
        return self.widths[0]

    @property
    def out_dim(self) -> int:
        """Output dimension d_J."""
        return self.widths[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading stack axes, broadcast over all arrays (``()`` for a single network).

        Examples
        --------
        >>> import moe_approx as ma
        >>> moe = ma.build_moe(ma.targets.get("kink", n=1), ma.GridPartition(1, 4), expert="cpwl")
        >>> moe.experts.batch_shape
        (4,)
        """
        shapes = [_batch_shape(w, 2) for w, _ in self.layers] + [_batch_shape(b, 1) for _, b in self.layers]
        shapes += [_batch_shape(a, 1) for a in self.slopes]
        return tuple(np.broadcast_shapes(*shapes))

    @property
    def num_params(self) -> int:
        """Stored parameters of one network: weights, biases, and PReLU slopes (docs/theory.md §2).

        Σ_l (d_{l−1} + 1) d_l, plus Σ of the hidden widths for a ``"prelu"`` network.

        Examples
        --------
        >>> from moe_approx import calculus
        >>> calculus.absolute(1, "relu").num_params, calculus.absolute(1, "prelu").num_params
        (7, 5)
        """
        d = self.widths
        count = sum(d[l] * d[l + 1] + d[l + 1] for l in range(self.depth))
        if self.activation == "prelu":
            count += sum(d[1:-1])
        return int(count)

    @property
    def num_nonzero(self):
        """Nonzero parameters of each network: an int, or an int array of shape ``batch_shape``.

        Nonzero PReLU slopes count; a ReLU network's slopes (all 0) do not (docs/theory.md §2).

        Examples
        --------
        >>> from moe_approx import calculus
        >>> calculus.absolute(1, "relu").num_nonzero, calculus.absolute(1, "prelu").num_nonzero
        (4, 3)
        """
        arrays = [(w, 2) for w, _ in self.layers] + [(b, 1) for _, b in self.layers]
        if self.activation == "prelu":
            arrays += [(a, 1) for a in self.slopes]
        total = np.zeros(self.batch_shape, dtype=np.int64)
        for a, core in arrays:
            a = np.asarray(a)
            total = total + np.count_nonzero(a, axis=tuple(range(a.ndim - core, a.ndim)))
        return int(total) if total.ndim == 0 else total

    # --- evaluation -------------------------------------------------------------------
    def __call__(self, x):
        """Evaluate: ``(..., d_0) -> (..., d_J)``; a stack maps ``batch + (P, d_0) -> batch + (P, d_J)``.

        Parameters
        ----------
        x : array_like
            Inputs; for a stack, one row of points per network.

        Returns
        -------
        jax.Array

        Examples
        --------
        >>> import numpy as np
        >>> from moe_approx import calculus
        >>> np.asarray(calculus.maximum(3)(np.array([1.0, 5.0, -2.0])))
        array([5.])
        """
        h = jnp.asarray(x)
        for l, (w, b) in enumerate(self.layers):
            h = _matmul(h, w) + _lift(b)
            if l < len(self.slopes):
                h = jnp.maximum(h, 0.0) + _lift(self.slopes[l]) * jnp.minimum(h, 0.0)
        return h

    def __repr__(self):
        stack = f", stack={self.batch_shape}" if self.batch_shape else ""
        return f"MLP(widths={self.widths}, activation={self.activation!r}{stack})"


def _as_layer_list(arrays, name: str) -> list:
    if isinstance(arrays, (str, bytes, dict)) or not hasattr(arrays, "__len__"):
        raise TypeError(f"{name} must be a list with one array per layer, got {type(arrays).__name__}")
    return list(arrays)


def _chain_problem(weights, biases, layout: str) -> str | None:
    """Why the layers (W_l already (in, out), as read in ``layout``) do not chain, or None."""
    as_read = f"(weights read as {_LAYOUT_SHAPES[layout]}, layout={layout!r})"
    for l, (w, b) in enumerate(zip(weights, biases)):
        given = w.shape if layout == "in_out" else np.swapaxes(w, -1, -2).shape
        if b.shape[-1] != w.shape[-1]:
            return f"biases[{l}] must have shape ({w.shape[-1]},) to match weights[{l}] {given} {as_read}, got {b.shape}"
        if l and w.shape[-2] != weights[l - 1].shape[-1]:
            hint = "; transpose (out, in) matrices or pass layout='out_in'" if layout == "in_out" else ""
            return f"weights[{l}] has input width {w.shape[-2]} but layer {l - 1} outputs {weights[l - 1].shape[-1]} {as_read}{hint}"
    return None


def _real_array(a, name: str) -> np.ndarray:
    """``a`` as a finite float64 array; TypeError/ValueError naming ``name`` (the layer) otherwise."""
    if hasattr(a, "detach"):  # a PyTorch tensor that may require grad
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a)
    except Exception as exc:  # noqa: BLE001  (any array-like that numpy cannot read)
        raise TypeError(f"{name} must be an array of real numbers, got {type(a).__name__}: {exc}") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers (float or int), got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; found {int(np.sum(~np.isfinite(arr)))} NaN or inf entries")
    return arr


def _matmul(h, w):
    """``h @ w``; for very thin inputs (d_in <= 4, e.g. points of a low-dimensional cube) as a
    sum of broadcast products, which XLA fuses instead of calling a GEMM with a tiny inner axis."""
    d_in = np.shape(w)[-2]
    if d_in > 4:
        return h @ w
    w = w if np.ndim(w) == 2 else jnp.expand_dims(w, -3)
    return sum(h[..., i : i + 1] * w[..., i, :] for i in range(d_in))


def _lift(v):
    """A per-neuron vector (..., d) broadcast against activations (..., P, d)."""
    return v if np.ndim(v) == 1 else jnp.expand_dims(v, -2)


def index_stack(net: MLP, index) -> MLP:
    """The networks ``net[index]`` of a stack with one batch axis; unbatched arrays are shared.

    Parameters
    ----------
    net : MLP
        A stack with batch shape (L,).
    index : int, slice or int array
        Which networks to take.

    Returns
    -------
    MLP

    Examples
    --------
    >>> import moe_approx as ma
    >>> from moe_approx.mlp import index_stack
    >>> moe = ma.build_moe(ma.targets.get("kink", n=1), ma.GridPartition(1, 4))
    >>> index_stack(moe.experts, [0, 2]).batch_shape
    (2,)
    """

    def take(a, core):
        return a if np.ndim(a) == core else a[index]

    return MLP(
        tuple((take(w, 2), take(b, 1)) for w, b in net.layers),
        tuple(take(a, 1) for a in net.slopes),
        net.activation,
    )


def concat_stacks(first: MLP, second: MLP) -> MLP:
    """The stack of ``first``'s networks followed by ``second``'s (one batch axis each, same architecture).

    A layer shared (unbatched) by both stacks with equal values stays shared.

    Parameters
    ----------
    first, second : MLP
        Stacks of one architecture and activation.

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If the architectures or activations differ.

    Examples
    --------
    >>> import moe_approx as ma
    >>> from moe_approx.mlp import concat_stacks
    >>> nets = ma.build_moe(ma.targets.get("kink", n=1), ma.GridPartition(1, 4)).experts
    >>> concat_stacks(nets, nets).batch_shape
    (8,)
    """
    if first.widths != second.widths or first.activation != second.activation:
        raise ValueError(f"stacks differ in architecture: {first} vs {second}")
    sizes = (first.batch_shape[0], second.batch_shape[0])

    def cat(a, b, core):
        if np.ndim(a) == core and np.ndim(b) == core and np.array_equal(a, b):
            return a
        parts = [np.broadcast_to(np.asarray(x), (s,) + np.shape(x)[np.ndim(x) - core :]) for x, s in zip((a, b), sizes)]
        return np.concatenate(parts)

    return MLP(
        tuple((cat(wa, wb, 2), cat(ba, bb, 1)) for (wa, ba), (wb, bb) in zip(first.layers, second.layers)),
        tuple(cat(a, b, 1) for a, b in zip(first.slopes, second.slopes)),
        first.activation,
    )
