"""Mixtures of explicit experts: Φ(x) = Φ_ρ(x)(x) (THEORY.md §2).

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
    """A partition plus one explicit expert per cell, stored as one stacked :class:`MLP`."""

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

    # --- sizes (THEORY.md §2) ---------------------------------------------------------
    @property
    def num_experts(self) -> int:
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
        return int(np.sum(self.experts.num_nonzero)) + self.partition.router_params_total

    @property
    def expert_depth(self) -> int:
        return self.experts.depth

    @property
    def expert_width(self) -> int:
        return self.experts.width

    @property
    def activation(self) -> str:
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


def build_moe(target, partition, expert: str = "constant", activation: str = "relu", **size) -> MixtureOfExperts:
    """The MoE with one explicit ``expert`` of the named family on each cell of ``partition``."""
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

