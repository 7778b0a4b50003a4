"""Mixtures of explicit experts: Φ(x) = Φ_ρ(x)(x) (docs/theory.md §2).

Evaluation is cell-blocked (DESIGN.md): points are grouped by cell into fixed-capacity slots
and each expert runs as one dense batched matmul over its own points. Slot capacities and slot
counts are bucketed so that ``jit`` compiles a handful of shapes, not one per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import experts as _experts
from ._checks import check_memory, check_points, check_target, is_traced
from .mlp import MLP, check_activation, index_stack


CHUNK_POINTS = 2**14  # points per chunk: keeps a chunk's activations in cache


def _apply_stack(net: MLP, x):
    """``net(x)[..., 0]`` for a stack (S,) and points (S, P, n), in cache-sized chunks of cells."""
    chunk = max(1, min(x.shape[0], CHUNK_POINTS // max(x.shape[1], 1)))
    return _apply_chunked(net, x, chunk)


@partial(jax.jit, static_argnums=2)
def _apply_chunked(net: MLP, x, chunk: int):
    S = x.shape[0]
    pad = -S % chunk

    def split(a, core):
        if np.ndim(a) == core:  # shared layer: not part of the scan
            return None
        a = jnp.concatenate([a, jnp.repeat(a[:1], pad, axis=0)]) if pad else a
        return a.reshape((-1, chunk) + a.shape[1:])

    layers = [(split(w, 2), split(b, 1)) for w, b in net.layers]
    slopes = [split(a, 1) for a in net.slopes]
    xs = split(x, 2)

    def body(carry):
        (lay, slo, xc) = carry
        full_layers = tuple((w if wc is None else wc, b if bc is None else bc)
                            for (w, b), (wc, bc) in zip(net.layers, lay))
        full_slopes = tuple(a if ac is None else ac for a, ac in zip(net.slopes, slo))
        return MLP(full_layers, full_slopes, net.activation)(xc)[..., 0]

    return jax.lax.map(body, (layers, slopes, xs)).reshape(-1, x.shape[1])[:S]


def _bucket(m: int) -> int:
    """Smallest value >= m of the form 2^j·{4,5,6,7}/4: at most 25 % padding, few distinct shapes."""
    if m <= 8:
        return 8
    base = 1 << (int(m).bit_length() - 3)
    return -(-m // base) * base


@dataclass(frozen=True)
class Dispatch:
    """Host-side grouping of N points into S slots of ``capacity`` points, one cell per slot."""

    slot_cell: np.ndarray  # (S,) cell of each slot
    slot_point: np.ndarray  # (S, capacity) index of the point in each lane (empty lanes repeat point 0)
    point_lane: np.ndarray  # (N,) flat lane s * capacity + j that holds each point
    identity: bool  # slot s is cell s for every cell: no weights need gathering


def group_by_cell(ids: np.ndarray, num_cells: int, lane_bytes: int, capacity: int | None = None,
                  multiple: int | None = None) -> Dispatch:
    """Group items with cell indices ``ids`` (N,) into slots of one cell each (host side).

    Slot capacity and slot count are bucket sizes (few distinct shapes for ``jit``), unless a fixed
    ``capacity`` is given and the slot count is padded to a multiple of ``multiple`` (the caller
    then runs the slots in chunks of one fixed shape).
    ``lane_bytes`` is the memory estimate per lane, checked before allocating.
    """
    N, L = ids.size, num_cells
    if N == 0:
        return Dispatch(np.zeros(multiple or 1, np.int64), np.zeros((multiple or 1, capacity or 8), np.int64),
                        np.zeros(0, np.int64), False)
    counts = np.bincount(ids, minlength=L)
    occupied = np.nonzero(counts)[0]
    capacity = capacity or _best_capacity(counts[occupied])
    per_cell = -(-counts[occupied] // capacity)
    S = int(per_cell.sum())
    identity = S == L and multiple is None
    S_pad = S if identity else (_bucket(S) if multiple is None else -(-S // multiple) * multiple)
    check_memory(S_pad * capacity * lane_bytes, "cell-blocked evaluation slots")
    slot_cell = np.zeros(S_pad, np.int64)
    slot_cell[:S] = np.repeat(occupied, per_cell)
    # a stable sort by cell; 16-bit keys take numpy's radix sort
    order = np.argsort(ids.astype(np.uint16) if L <= 2**16 else ids, kind="stable")
    first_slot = np.zeros(L, np.int64)
    first_slot[occupied] = np.cumsum(per_cell) - per_cell
    sorted_ids = ids[order]
    position = np.arange(N) - (np.cumsum(counts) - counts)[sorted_ids]
    lane = (first_slot[sorted_ids] + position // capacity) * capacity + position % capacity
    slot_point = np.zeros(S_pad * capacity, np.int64)
    slot_point[lane] = order
    point_lane = np.empty(N, np.int64)
    point_lane[order] = lane
    return Dispatch(slot_cell, slot_point.reshape(S_pad, capacity), point_lane, identity)


def _best_capacity(counts: np.ndarray) -> int:
    """Slot capacity (a bucket size) minimising the padded work Σ ⌈c/cap⌉·cap."""
    candidates = sorted({_bucket(int(c)) for c in np.quantile(counts, [0.5, 0.75, 0.9, 0.99, 1.0])})
    work = [int(np.sum(-(-counts // c)) * c) for c in candidates]
    return candidates[int(np.argmin(work))]


class MixtureOfExperts:
    """A partition plus one explicit expert per cell, stored as one stacked :class:`MLP`.

    Φ(x) = Φ_ρ(x)(x), ρ the partition's router (docs/theory.md §2). Counts: ``active_params`` =
    one expert's stored parameters + the router thresholds one input touches; ``total_params`` =
    all experts + the whole router; ``total_nonzero`` the same with nonzero counts.

    Parameters
    ----------
    partition : GridPartition, DyadicPartition or PrototypePartition
        The cells and the router.
    experts : MLP
        A stack of ``partition.num_cells`` networks R^n → R, expert i for cell i.
    family : str, default "custom"
        The expert family's name (recorded, see :func:`build_moe`).
    size : dict, optional
        The family's size keywords (recorded).

    Raises
    ------
    TypeError
        If ``experts`` is not an MLP.
    ValueError
        If ``experts`` is not a stack of one network R^n → R per cell.

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
        if experts.batch_shape != (partition.num_cells,) or experts.in_dim != partition.n or experts.out_dim != 1:
            raise ValueError(
                f"experts must be a stack of {partition.num_cells} networks R^{partition.n} -> R, "
                f"got stack {experts.batch_shape}, widths {experts.widths}"
            )
        self.partition, self.experts, self.family, self.size = partition, experts, family, dict(size or {})
        self.n = partition.n
        self.certificate = None  # set by approximate(): the proof that sup|f − Φ| <= eps

    # --- networks from anywhere, saving -----------------------------------------------
    @classmethod
    def from_experts(cls, partition, experts, family: str = "custom", size: dict | None = None) -> "MixtureOfExperts":
        """The mixture Φ(x) = Φ_ρ(x)(x) (docs/theory.md §2) of one given expert per cell.

        ``experts``: a list of ``partition.num_cells`` unstacked :class:`MLP` R^n -> R of one
        architecture (widths and activation), in cell order, or an MLP stack of that many.
        Build each with :meth:`MLP.from_arrays` from trained weights.
        """
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
        if first.widths[0] != partition.n or first.widths[-1] != 1:
            raise ValueError(f"experts must map R^{partition.n} -> R, got widths {first.widths}")
        stack = MLP(tuple((np.stack([np.asarray(e.layers[l][0], np.float64) for e in experts]),
                           np.stack([np.asarray(e.layers[l][1], np.float64) for e in experts]))
                          for l in range(first.depth)),
                    tuple(np.stack([np.broadcast_to(np.asarray(e.slopes[l], np.float64), np.shape(first.layers[l][1]))
                                    for e in experts]) for l in range(first.depth - 1)),
                    first.activation)
        return cls(partition, stack, family, size)

    def save(self, path, target=None):
        """Write this mixture (and its certificate) to one ``.npz`` file; see :func:`moe_approx.io.save`."""
        from . import io

        return io.save(self, path, target=target)

    # --- sizes (THEORY.md §2) ---------------------------------------------------------
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
        """Φ(x) for points (..., n); cell-blocked for concrete input, per-point under tracing."""
        x = check_points(x, self.n)
        if x.size == 0:  # an empty batch: nothing to route
            return jnp.zeros(x.shape[:-1], jnp.float64)
        if is_traced(x):
            return self.apply_per_point(x)
        flat = x.reshape(-1, self.n)
        out = self.apply_dispatched(flat, self.dispatch(flat))
        return out.reshape(x.shape[:-1])

    def dispatch(self, x) -> Dispatch:
        """Group concrete points (N, n) by cell into slots (host side; routing has zero gradient)."""
        x = check_points(x, self.n)
        ids = np.asarray(self.partition.locate(x)).ravel()
        return group_by_cell(ids, self.num_experts, (self.n + self.experts.width + 2) * 8 * 3)

    def apply_dispatched(self, x, dispatch: Dispatch):
        """Cell-blocked Φ(x) for points (N, n) grouped by ``dispatch``; jit- and grad-friendly in x."""
        experts = self.experts if dispatch.identity else index_stack(self.experts, jnp.asarray(dispatch.slot_cell))
        return _blocked(experts, jnp.asarray(x), jnp.asarray(dispatch.slot_point), jnp.asarray(dispatch.point_lane))

    def apply_blocked(self, x_cells, cells=slice(None)):
        """Φ on points already grouped by cell: row j of x_cells (C, P, n) lies in cell ``cells[j]``."""
        experts = self.experts if cells == slice(None) else index_stack(self.experts, cells)
        if x_cells.ndim != 3 or x_cells.shape[-1] != self.n or (experts.batch_shape[0] != x_cells.shape[0]):
            raise ValueError(f"x_cells must have shape ({experts.batch_shape[0]}, P, {self.n}), got {x_cells.shape}")
        return _apply_stack(experts, jnp.asarray(x_cells))

    def apply_per_point(self, x):
        """Naive reference: gather each point's expert weights (slow; for tracing and tests)."""
        ids = self.partition._locate(x)
        return _per_point(self.experts, x, ids)

    def __repr__(self):
        return (
            f"MixtureOfExperts(family={self.family!r}, size={self.size}, experts={self.num_experts}, "
            f"activation={self.activation!r}, expert_params={self.expert_params}, total_params={self.total_params})"
        )


@jax.jit
def _blocked(experts: MLP, x, slot_point, point_lane):
    return _apply_stack(experts, x[slot_point]).ravel()[point_lane]


@jax.jit
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
    return h[..., 0, 0]


def as_mixture(net) -> MixtureOfExperts:
    """``net`` as a mixture: a MixtureOfExperts is returned as is; a single (unstacked) MLP
    R^n -> R becomes the one-cell mixture on ``GridPartition(n, 1)`` (the cube is its only cell)."""
    from .partition import GridPartition

    if isinstance(net, MixtureOfExperts):
        return net
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP or a MixtureOfExperts, got {type(net).__name__}")
    if net.batch_shape or net.out_dim != 1:
        raise ValueError(f"net must be a single MLP R^n -> R, got {net}")
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
    target : HolderTarget
        The function to approximate, defined on the partition's n.
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

