"""Mixtures of explicit experts: Φ(x) = Φ_ρ(x)(x) (docs/theory.md §2).

Evaluation is cell-blocked: ``__call__`` routes the points on the device, groups them
by cell with one counting (radix) sort on the host, lays each cell's points into slots (one slot
of M lanes for its first M points, slots of T lanes for the rest, M and T chosen from the cell
counts), and runs every slot as a dense batched matmul with its expert's weights gathered inside
the loop; one scatter puts the outputs back in input order. The experts live on the device
(copied once), and point counts, slot counts and capacities are bucketed, so ``jit`` compiles a
handful of shapes, not one per call. Under tracing ``__call__`` falls back to a per-point gather.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial

import jax
import jax.numpy as jnp
import numpy as np

from . import experts as _experts
from .calculus import parallel
from .outputs import output_component
from .targets.vector import is_vector
from ._checks import check_memory, check_points, check_target, is_traced
from .mlp import MLP, check_activation, index_stack
from ._npz import write
from .partition.base import _Partition
from ._config import kernel_jit


CHUNK_POINTS = 2**14  # points per chunk: keeps a chunk's activations in cache


def _apply_stack(net: MLP, x):
    """``net(x)`` (S, P, m) for a stack (S,) and points (S, P, n): the slot kernel, slot s running network s."""
    S, P = x.shape[:2]
    if S == 0:
        return jnp.zeros((0, P, net.out_dim))
    group = _group(P)
    xs = jnp.pad(jnp.asarray(x), ((0, -S % group), (0, 0), (0, 0)))
    cell = jnp.arange(xs.shape[0]) % S
    return _slot_pass(net, xs, cell, jnp.int32(-(-S // group))).reshape(-1, P, net.out_dim)[:S]


def _bucket(m: int) -> int:
    """Smallest value >= m of the form 2^j·{4,5,6,7}/4: at most 25 % padding, few distinct shapes."""
    if m <= 8:
        return 8
    base = 1 << (int(m).bit_length() - 3)
    return -(-m // base) * base


SLOT_OVERHEAD = 32  # lanes: cost of one slot's weight gather and small matmuls (bench_eval, width 32)
MAX_CAPACITY = CHUNK_POINTS


def _fine_bucket(m: int) -> int:
    """Smallest value >= m of the form j·2^k, 8 <= j < 16 (at most 12.5 % above m; 8 shapes an octave)."""
    if m <= 8:
        return 8
    base = 1 << (int(m).bit_length() - 4)
    return -(-m // base) * base


@dataclass(frozen=True)
class Routing:
    """Points grouped by cell (one counting sort) for :meth:`MixtureOfExperts.apply_dispatched`.

    ``order`` (device, int64) lists the point indices sorted by cell, padded to a bucket size so
    that ``jit`` sees few shapes. ``passes`` holds, per slot capacity ``cap``, device arrays
    ``(used, cell, start, length)``: slot s runs expert ``cell[s]`` on the points
    ``order[start[s] : start[s] + length[s]]`` (length <= cap). Slot arrays are padded to whole
    chunks of :func:`_group` slots; only the first ``used`` chunks run.
    """

    num_points: int
    order: jax.Array
    caps: tuple
    passes: tuple


def plan_slots(counts: np.ndarray, overhead: int = SLOT_OVERHEAD) -> tuple:
    """Slots for cells holding ``counts`` points: ``((cap, cell, start, length), ...)`` host arrays.

    Cell c gets one slot of M lanes for its first min(c, M) points and ⌈(c − M)⁺/T⌉ slots of T lanes
    for the rest, its points being the sorted positions from start_c = Σ_{c' < c} counts_c'.
    (M, T) minimises the padded work Σ_slots (capacity + ``overhead``), ``overhead`` being the cost
    of one slot (weight gather, small matmuls) in lanes. M is 0 or a fine bucket (<= 12.5 % above
    a quantile of the counts), T a power of two: few compiled shapes.
    """
    counts = np.asarray(counts, np.int64)
    occupied = np.nonzero(counts)[0]
    if occupied.size == 0:
        return ()
    c, start = counts[occupied], (np.cumsum(counts) - counts)[occupied]
    qs = np.quantile(c, [0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0], method="higher")
    mains = np.array([0] + sorted({min(_fine_bucket(int(q)), MAX_CAPACITY) for q in qs}))
    best = None
    for M in mains:  # at most 10 x 12 candidates, O(cells) memory each
        over = np.maximum(c - M, 0)
        for T in 2 ** np.arange(3, max(4, min(int(over.max()), MAX_CAPACITY).bit_length() + 1)):
            per = -(-over // T)
            work = int(per.sum()) * (int(T) + overhead) + (c.size * (int(M) + overhead) if M else 0)
            if best is None or work < best[0]:
                best = (work, int(M), int(T), per, over)
    _, M, T, per, over = best
    passes = [(M, occupied, start, np.minimum(c, M))] if M else []
    if per.sum():
        k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)  # slot number within its cell
        passes.append((T, np.repeat(occupied, per), np.repeat(start + M, per) + k * T,
                       np.minimum(np.repeat(over, per) - k * T, T)))
    return tuple(passes)


class MixtureSizes:
    """Parameter counts of a mixture with ``partition`` and stacked ``experts`` (docs/theory.md §2)."""

    @property
    def num_experts(self) -> int:
        """L, the number of cells."""
        return self.partition.num_cells

    @property
    def expert_params(self) -> int:
        """Stored parameters of one expert."""
        return self.experts.num_params

    @property
    def active_params(self) -> int:
        """Parameters loaded for one input: one expert plus the router parameters it touches."""
        return self.expert_params + self.partition.router_params_active

    @property
    def total_params(self) -> int:
        """All experts plus the whole router."""
        return self.num_experts * self.expert_params + self.partition.router_params_total


class MixtureOfExperts(MixtureSizes):
    """A partition plus one explicit expert per cell, stored as one stacked :class:`MLP`.

    Φ(x) = Φ_ρ(x)(x), ρ the partition's router (docs/theory.md §2). Counts: ``active_params`` =
    one expert's stored parameters + the router thresholds one input touches; ``total_params`` =
    all experts + the whole router; ``total_nonzero`` the same with nonzero counts.

    Parameters
    ----------
    partition : GridPartition, DyadicPartition or PrototypePartition
        The cells and the router.
    experts : MLP
        A stack of ``partition.num_cells`` networks R^n → R^m, expert i for cell i; m >= 1 outputs
        (a vector target's mixture, :func:`build_moe`): then Φ(x) has shape (..., m).
    family : str, default "custom"
        The expert family's name (recorded, see :func:`build_moe`).
    size : dict, optional
        The family's size keywords (recorded).

    Raises
    ------
    TypeError
        If ``experts`` is not an MLP.
    ValueError
        If ``experts`` is not a stack of one network R^n → R^m per cell.

    Examples
    --------
    >>> import numpy as np
    >>> import moe_approx as ma
    >>> f = ma.targets.get("kink", n=1)
    >>> moe = ma.build_moe(f, ma.GridPartition(1, 8), expert="constant")
    >>> moe.num_experts, moe.active_params, moe.total_params     # 2 stored per expert; router 3, 7
    (8, 5, 23)
    >>> x = np.linspace(0, 1, 1001)[:, None]
    >>> float(np.max(np.abs(f(x) - moe(x))))                    # exactly h/2 (docs/theory.md §2)
    0.0625
    """

    def __init__(self, partition, experts: MLP, family: str = "custom", size: dict | None = None):
        if not isinstance(experts, MLP):
            raise TypeError(f"experts must be an MLP stack, got {type(experts).__name__}")
        if experts.batch_shape != (partition.num_cells,) or experts.in_dim != partition.n:
            raise ValueError(
                f"experts must be a stack of {partition.num_cells} networks R^{partition.n} -> R^m, "
                f"got stack {experts.batch_shape}, widths {experts.widths}"
            )
        self.partition, self.experts, self.family, self.size = partition, experts, family, dict(size or {})
        self.n, self.m = partition.n, experts.out_dim
        self.certificate = None  # set by approximate(): the proof that sup|f − Φ| <= eps

    # --- networks from anywhere, saving -----------------------------------------------
    @classmethod
    def from_experts(cls, partition, experts, family: str = "custom", size: dict | None = None) -> "MixtureOfExperts":
        """The mixture Φ(x) = Φ_ρ(x)(x) (docs/theory.md §2) of one given expert per cell.

        ``experts``: a list of ``partition.num_cells`` unstacked :class:`MLP` R^n -> R^m of one
        architecture (widths and activation), in cell order, or an MLP stack of that many.
        Build each with :meth:`MLP.from_arrays` from trained weights. Raises ``TypeError`` naming
        ``partition`` or ``experts`` when either has the wrong type.
        """
        if not isinstance(partition, _Partition):
            raise TypeError("partition must be a GridPartition, DyadicPartition or PrototypePartition, "
                            f"got {type(partition).__name__}")
        if isinstance(experts, MLP):
            if not experts.batch_shape:
                raise ValueError(f"experts is a single MLP; pass a list of {partition.num_cells} MLPs, a stack, "
                                 "or use as_mixture(net) for one network on the whole cube")
            return cls(partition, experts, family, size)
        if isinstance(experts, (str, bytes)) or not hasattr(experts, "__len__"):
            raise TypeError(f"experts must be a list of MLPs or an MLP stack, got {type(experts).__name__}")
        experts = list(experts)
        if len(experts) != partition.num_cells:
            raise ValueError(f"experts must hold one MLP per cell ({partition.num_cells}), got {len(experts)}")
        first = experts[0]
        for i, net in enumerate(experts):
            if not isinstance(net, MLP):
                raise TypeError(f"experts[{i}] must be an MLP, got {type(net).__name__}")
            if net.batch_shape:
                raise ValueError(f"experts[{i}] is a stack {net.batch_shape}; pass unstacked networks")
            if net.widths != first.widths or net.activation != first.activation:
                raise ValueError(f"experts must share one architecture: experts[0] is {first} but experts[{i}] is {net}")
        if first.widths[0] != partition.n:
            raise ValueError(f"experts must map R^{partition.n} -> R^m, got widths {first.widths}")
        stack = MLP(tuple((np.stack([np.asarray(e.layers[l][0], np.float64) for e in experts]),
                           np.stack([np.asarray(e.layers[l][1], np.float64) for e in experts]))
                          for l in range(first.depth)),
                    tuple(np.stack([np.broadcast_to(np.asarray(e.slopes[l], np.float64), np.shape(first.layers[l][1]))
                                    for e in experts]) for l in range(first.depth - 1)),
                    first.activation)
        return cls(partition, stack, family, size)

    def component(self, j: int) -> "MixtureOfExperts":
        """The scalar mixture x ↦ Φ(x)_j on the same partition (m outputs, 0 <= j < m).

        Every expert's j-th output as an exact sub-network (:func:`moe_approx.outputs.output_component`):
        for a mixture built for a vector target, the j-th component's own experts, with the family label.

        Examples
        --------
        >>> import moe_approx as ma
        >>> f = ma.targets.VectorTarget([ma.targets.get("cone", n=2), ma.targets.get("kink", n=2)])
        >>> moe = ma.build_moe(f, ma.GridPartition(2, 4), expert="cpwl")
        >>> moe.m, moe.expert_width, moe.component(1).expert_width, moe.component(1).family
        (2, 44, 22, 'cpwl')
        """
        net = output_component(self.experts, j)
        own = self.m == 1 or all(a * self.m == b for a, b in zip(net.widths[1:-1], self.experts.widths[1:-1]))
        return MixtureOfExperts(self.partition, net, self.family if own else "custom", self.size)

    def save(self, path, target=None):
        """Write this mixture (and its certificate) to one ``.npz`` file; see :func:`moe_approx.io.save`."""
        return write(self, path, target=target)

    # --- sizes (docs/theory.md §2): num_experts, expert_params, active_params, total_params (MixtureSizes)

    @property
    def total_nonzero(self) -> int:
        """Nonzero parameters of all experts + the whole router (docs/theory.md §2)."""
        return int(np.sum(self.experts.num_nonzero)) + self.partition.router_params_total

    @property
    def expert_depth(self) -> int:
        """Depth J of every expert."""
        return self.experts.depth

    @property
    def expert_width(self) -> int:
        """Width W of every expert."""
        return self.experts.width

    @property
    def activation(self) -> str:
        """``"relu"`` or ``"prelu"``."""
        return self.experts.activation

    # --- evaluation --------------------------------------------------------------------
    def __call__(self, x):
        """Φ(x) for points (..., n): shape (...), or (..., m) for m > 1 outputs; routed once, then
        cell-blocked (per-point under tracing)."""
        if is_traced(x):
            return self.apply_per_point(check_points(x, self.n))
        x = self._device_points(x)
        flat = x.reshape(-1, self.n)
        return self.apply_dispatched(flat, self._dispatch(flat)).reshape(x.shape[:-1] + self._out_shape)

    @property
    def _out_shape(self) -> tuple:
        """The trailing shape of one output: () for one output, (m,) for several."""
        return () if self.m == 1 else (self.m,)

    def _device_points(self, x):
        """x (..., n) as a device array, checked once: numpy input on the host, device input on the device."""
        if not isinstance(x, jax.Array):
            return jnp.asarray(check_points(x, self.n))
        if x.ndim < 1 or x.shape[-1] != self.n or not bool(_in_cube(x)):
            check_points(np.asarray(x), self.n)  # raises: wrong shape, not finite, or outside the cube
        return x

    @cached_property
    def _device_experts(self) -> MLP:
        """The stacked experts as device arrays, copied once (not on every call)."""
        leaves = jax.tree_util.tree_leaves(self.experts)
        check_memory(sum(np.asarray(a).nbytes for a in leaves if not isinstance(a, jax.Array)), "device copy of the experts")
        return jax.tree_util.tree_map(jnp.asarray, self.experts)

    def dispatch(self, x) -> Routing:
        """Group points (N, n) by cell: route on the device, one counting sort on the host.

        Routing has zero gradient, so the grouping is data, not part of the traced computation.
        """
        x = self._device_points(x)
        if x.ndim != 2:
            raise ValueError(f"x must have shape (N, {self.n}), got {x.shape}")
        return self._dispatch(x)

    def _dispatch(self, x) -> Routing:
        N = x.shape[0]
        size = _bucket(N)
        check_memory(size * (self.n + 4) * 8 * 4, "routing of the points")
        xp = x if size == N else _pad_rows(x, size)
        key, counts = _sort_keys(self.partition._locate(xp), N, self.num_experts)
        order = np.argsort(np.asarray(key), kind="stable")  # 16-bit keys: numpy sorts by radix (counting) passes
        caps, passes = [], []
        for cap, cell, start, length in plan_slots(np.asarray(counts)):
            group = _group(cap)
            used = -(-cell.size // group)
            size = _bucket(used) * group
            check_memory(size * cap * (self.n + 2 * self.experts.width + 4) * 8, "cell-blocked evaluation slots")
            pad = lambda a: jnp.asarray(np.pad(a.astype(np.int32), (0, size - a.size)))
            caps.append(cap)
            passes.append((jnp.int32(used), pad(cell), pad(start), pad(length)))
        return Routing(N, jax.device_put(order, may_alias=True), tuple(caps), tuple(passes))

    def apply_dispatched(self, x, routing: Routing):
        """Cell-blocked Φ(x), (N,) or (N, m), for points (N, n) grouped by ``routing``; jit- and grad-friendly in x."""
        x = jnp.asarray(x)
        N, size = routing.num_points, routing.order.shape[0]
        if x.shape != (N, self.n):
            raise ValueError(f"x must have shape ({N}, {self.n}) as dispatched, got {x.shape}")
        y = _routed(self._device_experts, x if size == N else _pad_rows(x, size), routing.order, routing.passes, routing.caps)
        return (y if size == N else y[:N]).reshape((N,) + self._out_shape)

    def apply_blocked(self, x_cells, cells=slice(None)):
        """Φ on points already grouped by cell: row j of x_cells (C, P, n) lies in cell ``cells[j]``."""
        experts = self._device_experts if cells == slice(None) else index_stack(self._device_experts, cells)
        if x_cells.ndim != 3 or x_cells.shape[-1] != self.n or (experts.batch_shape[0] != x_cells.shape[0]):
            raise ValueError(f"x_cells must have shape ({experts.batch_shape[0]}, P, {self.n}), got {x_cells.shape}")
        y = _apply_stack(experts, jnp.asarray(x_cells))
        return y.reshape(y.shape[:2] + self._out_shape)

    def apply_per_point(self, x):
        """Naive reference: gather each point's expert weights (slow; for tracing and tests)."""
        ids = self.partition._locate(x)
        y = _per_point(self.experts, x, ids)
        return y.reshape(y.shape[:-1] + self._out_shape)

    def __repr__(self):
        return (
            f"MixtureOfExperts(family={self.family!r}, size={self.size}, experts={self.num_experts}, "
            f"activation={self.activation!r}, expert_params={self.expert_params}, total_params={self.total_params})"
        )


def _group(cap: int) -> int:
    """Slots per chunk of the slot kernel: about CHUNK_POINTS lanes (activations in cache), and at most
    256 slots (their gathered weights in cache too)."""
    return max(1, min(256, CHUNK_POINTS // cap))


@kernel_jit
def _in_cube(x):
    """Whether every entry of x is finite and in [0, 1]."""
    return jnp.all((x >= 0.0) & (x <= 1.0))  # False for NaN


@partial(kernel_jit, static_argnums=1)
def _pad_rows(x, size):
    """x (N, n) padded with zeros to ``size`` rows (a bucket size: few compiled shapes)."""
    return jnp.pad(x, ((0, size - x.shape[0]), (0, 0)))


@partial(kernel_jit, static_argnums=2)
def _sort_keys(ids, num_points, num_cells):
    """Cell counts and sort keys of routed points; the padding rows (from ``num_points`` on) get key L."""
    ids = jnp.where(jnp.arange(ids.shape[0]) < num_points, ids, num_cells)
    counts = jnp.zeros(num_cells + 1, jnp.int32).at[ids].add(1)[:num_cells]
    return ids.astype(jnp.uint16 if num_cells < 2**16 else jnp.uint32), counts


def _routed(experts: MLP, x, order, passes, caps):
    """Φ at points x (N, n) grouped by a :class:`Routing`'s ``order`` and slot ``passes`` (N = its bucket size).

    Per pass: gather the points of every slot (empty lanes read 0) and run the slots as a loop
    over chunks (gathered expert weights, batched matmuls; chunks past ``used`` are skipped);
    then scatter the outputs into place. Separate jitted steps: XLA fuses one program worse.
    """
    where, outs = [], []
    for cap, (used, cell, start, length) in zip(caps, passes):
        pts, xs = _slot_points(x, order, start, length, cap)
        outs.append(_slot_pass(experts, xs, cell, used))
        where.append(pts)
    return _unsort(tuple(where), tuple(outs), x.shape[0])


@partial(kernel_jit, static_argnums=4)
def _slot_points(x, order, start, length, cap):
    """Point index of every lane (N where empty), shape (S, cap), and the points (S, cap, n)."""
    lanes = jnp.arange(cap)
    valid = lanes < length[:, None]
    pts = jnp.where(valid, order[jnp.where(valid, start[:, None] + lanes, 0)], x.shape[0])
    return pts, x.at[pts].get(mode="fill", fill_value=0.0)


@kernel_jit
def _slot_pass(experts: MLP, xs, cell, used):
    """Expert ``cell[s]`` on the points xs[s] (S, cap, n) -> (S, cap, m), in chunks of slots; chunks from ``used`` on give 0."""
    S, cap = xs.shape[:2]
    group = _group(cap)

    def step(a):
        return jax.lax.cond(a[2] < used, lambda a: index_stack(experts, a[0])(a[1]),
                            lambda a: jnp.zeros((group, cap, experts.out_dim), xs.dtype), a)

    return jax.lax.map(step, (cell.reshape(-1, group), xs.reshape(-1, group, cap, xs.shape[2]), jnp.arange(S // group)))


@partial(kernel_jit, static_argnums=2)
def _unsort(where, outs, num_points):
    """y (N, m) with y[where[k]] = outs[k] (indices ``num_points`` dropped); one scatter per pass, no concatenation."""
    m = outs[0].shape[-1] if outs else 1
    y = jnp.zeros((num_points, m), outs[0].dtype if outs else jnp.float64)
    for w, o in zip(where, outs):
        y = y.at[w.ravel()].set(o.reshape(-1, m), mode="drop", unique_indices=True)
    return y


@kernel_jit
def _per_point(experts: MLP, x, ids):
    h = x[..., None, :]
    for l, (w, b) in enumerate(experts.layers):
        w = w if w.ndim == 2 else w[ids]
        b = b if b.ndim == 1 else b[ids][..., None, :]
        h = h @ w + b
        if l < len(experts.slopes):
            a = experts.slopes[l]
            a = a if a.ndim == 1 else a[ids][..., None, :]
            h = jnp.maximum(h, 0.0) + a * jnp.minimum(h, 0.0)
    return h[..., 0, :]


def as_mixture(net) -> MixtureOfExperts:
    """``net`` as a mixture: a MixtureOfExperts is returned as is; a single (unstacked) MLP
    R^n -> R^m becomes the one-cell mixture on ``GridPartition(n, 1)`` (the cube is its only cell).

    So :func:`~moe_approx.sup_error`, :func:`~moe_approx.io.save` and the parameter counts apply
    to a single network too (docs/theory.md §2).

    Parameters
    ----------
    net : MLP or MixtureOfExperts
        An MLP with no stack axes, or a mixture.

    Returns
    -------
    MixtureOfExperts
        ``net`` itself, or the one-expert mixture computing ``net`` on [0,1]^n.

    Raises
    ------
    TypeError
        If ``net`` is neither an MLP nor a MixtureOfExperts.
    ValueError
        If the MLP is a stack of networks.

    Examples
    --------
    |x| = relu(x) + relu(−x), a depth-2 network of width 2:

    >>> import numpy as np
    >>> import moe_approx as ma
    >>> mlp = ma.MLP.from_arrays([np.array([[1.0, -1.0]]), np.array([[1.0], [1.0]])],
    ...                          [np.zeros(2), np.zeros(1)])
    >>> moe = ma.as_mixture(mlp)
    >>> moe.num_experts, moe.expert_depth, moe.expert_width
    (1, 2, 2)
    >>> x = np.linspace(0, 1, 5)[:, None]
    >>> np.array_equal(np.ravel(moe(x)), np.ravel(mlp(x)))
    True
    """
    from .partition import GridPartition

    if isinstance(net, MixtureOfExperts):
        return net
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP or a MixtureOfExperts, got {type(net).__name__}")
    if net.batch_shape:
        raise ValueError(f"net must be a single MLP R^n -> R^m, got a stack {net}")
    return MixtureOfExperts.from_experts(GridPartition(net.in_dim, 1), [net])


def build_moe(target, partition, expert: str = "constant", activation: str = "relu", **size) -> MixtureOfExperts:
    """The MoE with one explicit ``expert`` of the named family on each cell of ``partition``.

    Families and their size keywords (``experts.<family>.SIZE_DEFAULTS``, docs/theory.md §4):

    ============ ====================== ===========================================================
    family       size keywords          expert on a cell of side h
    ============ ====================== ===========================================================
    "constant"   none                   f at the cell centre; error ≤ C (h/2)^α (§4.1)
    "cpwl"       k = 2                  Kuhn interpolation on a k^n sub-grid; error ≤ C (h/k)^α (§4.2)
    "yarotsky"   m = 8, degree = 2      degree-``degree`` Taylor polynomial, products by depth-m
                                        sawtooth squares; needs a target with smoothness (§4.3)
    "optimal"    A = 4, B = 4           bit extraction, A blocks of B cubes, B ≤ 27 in float64 (§4.4)
    ============ ====================== ===========================================================

    Parameters
    ----------
    target : HolderTarget or VectorTarget
        The function to approximate, defined on the partition's n. For a
        :class:`~moe_approx.targets.VectorTarget` with m components, each component's experts are
        built on the same cells and composed in parallel (block-diagonal, docs/theory.md §3): the
        mixture has m outputs and ``moe.component(j)`` is component j's own mixture.
    partition : GridPartition, DyadicPartition or PrototypePartition
        The cells.
    expert : {"constant", "cpwl", "yarotsky", "optimal"}, default "constant"
        The family.
    activation : {"relu", "prelu"}, default "relu"
        Same function either way; PReLU experts are smaller (docs/theory.md §3).
    **size
        The family's size keywords; omitted ones take the defaults above.

    Returns
    -------
    MixtureOfExperts

    Raises
    ------
    TypeError
        If ``target`` or ``partition`` is of the wrong type.
    ValueError
        If the dimensions differ, the family, a size keyword or the activation is unknown, a size
        is not an integer >= 1, the target lacks what the family needs, or the experts would not
        fit in memory.

    Examples
    --------
    >>> import moe_approx as ma
    >>> f = ma.targets.get("cone", n=2)
    >>> moe = ma.build_moe(f, ma.GridPartition(2, 4), expert="cpwl", k=3, activation="prelu")
    >>> moe.num_experts, moe.size, moe.expert_depth
    (16, {'k': 3}, 3)
    >>> ma.build_moe(f, ma.GridPartition(2, 4), expert="cpwl").size      # the default
    {'k': 2}
    >>> ma.build_moe(f, ma.GridPartition(2, 4), expert="cpwl", m=3)
    Traceback (most recent call last):
    ...
    ValueError: unknown size keyword(s) ['m']; accepted: ['k']
    """
    if is_vector(target):
        parts = [build_moe(c, partition, expert, activation, **size).experts for c in target.components]
        return MixtureOfExperts(partition, parallel(*parts) if len(parts) > 1 else parts[0], expert,
                                _experts.check_size(_experts.get(expert), size))
    check_target(target)
    if not all(hasattr(partition, a) for a in ("n", "num_cells", "all_bounds")):
        raise TypeError(f"partition must be a GridPartition, DyadicPartition or PrototypePartition, got {type(partition).__name__}")
    if target.n != partition.n:
        raise ValueError(f"target is defined on n={target.n} but partition on n={partition.n}")
    family = _experts.get(expert)
    size = _experts.check_size(family, size)
    check_activation(activation)
    per_expert = family.num_params(partition.n, activation, **size)
    sizes = "".join(f" {key}={value}" for key, value in size.items())
    check_memory(8 * partition.num_cells * per_expert, f"{partition.num_cells} {expert} experts ({sizes.strip() or 'no size'}) "
                                                       f"of {per_expert} parameters")
    lo, hi = partition.all_bounds()
    nets = family.build(target, lo, hi, activation=activation, **size)
    return MixtureOfExperts(partition, nets, expert, size)

