"""Optimal-rate deep experts by bit extraction (docs/theory.md §4.4).

Yarotsky 2018 (arXiv:1802.03620); Shen, Yang, Zhang 2020 (arXiv:1906.05497) and 2022
(arXiv:2103.00502). On the unit cube of a cell (coordinates u = (x − lo)/(hi − lo)):

1. Index (step functions). N = M + 1 cubes per side: cube i ∈ {0..M} of coordinate k is
   t_k = M·u_k − o ∈ [i − 1, i) (clipped to [0, 1]), o the copy's offset. The step
   σ(8(t − j) + 1) − σ(8(t − j)) is exact except on the *trifling band* t ∈ (j − 1/8, j), of width
   1/(8M) in u. n = 1 uses two scales (A − 1 coarse steps, then B − 1 fine steps on t − aB);
   n ≥ 2 uses M steps per coordinate.
2. Snake order (n ≥ 2): coordinate k runs backwards when i_1 + … + i_{k−1} is odd, so consecutive
   path positions s are face neighbours. The parities are alternating sums of the same steps.

Sizes: A blocks of B cubes; :func:`grid_side` picks N = M + 1 = max(2, ⌊(A·B)^(1/n)⌋) cubes per
side, so P ≍ A + B (plus O(M) index steps, ≤ A + B for n ≥ 2) and error ≍ 1/M ≍ (A·B)^(−1/n):
with A ≍ B that is P^(−2/n).

3. Blocks: s = a·B + b, ⌈N^n / B⌉ <= A blocks of B cubes. Per block: its start value and one
   dyadic y = Σ_m (d_m + 2)·4^(−m) encoding its B − 1 increments d_m ∈ {−1, 0, 1}. Selection by
   indicators [a = j] (a deep chain; one nonzero term per sum: exact); extraction of the base-4
   digits D ∈ {1, 2, 3} of y, two layers per digit: D = 1 + [y ≥ 1/2] + [y ≥ 3/4] from the integer
   pre-activations 2^(K_m)(y − c), K_m = 2(B − m), then y ← 4y − D; the running sum adds
   [b ≥ m]·(D − 2) through u·d = σ(d + u − 1) − σ(−d + u − 1).
4. Median: 3^n copies with offsets o ∈ {1/4, 1/2, 3/4} per coordinate, whose bands are disjoint;
   mid(a, b, c) = max(min(a, b), min(max(a, b), c)) nested over the coordinates
   (Shen–Yang–Zhang 2022) is exact everywhere: per coordinate at most one offset is in its band.

Values: v = ⌊(f(c) − f(cell centre))/q⌋ at the cube centres c with q = C (h/M)^α (1 + 2^−20)
(h the cell's largest side), so snake neighbours differ by at most 1; the output is
q·(v + 1/2) + const and the error is at most q·(1/2 + 2^−α) (:func:`error_bound`).

Float64 limit (:data:`MAX_BLOCK_FLOAT64` = 27): y has K_1 = 2(B − 1) significant bits (its
leading digit is nonzero), and the extraction's pre-activations 2^(K_m)·(4y_prev − D − c) and the
update 4y − D are integers up to 2^(K_1) resp. dyadics with K_m bits; all are exact iff
2(B − 1) ≤ 53, so B ≤ 27 (B = 28 needs 54 bits: the last digit is rounded away). Larger blocks:
:func:`build_exact` and :func:`moe_approx.exact.evaluate_exact`.
In exact arithmetic every stage is exact off the band. In float64 a step of a real argument,
σ(z + 1) − σ(z), is 1 only up to rounding, so a, b and s are integers up to ~1e-12; the
indicators have a dead zone, I = σ(1 − σ(4|a − j| − 1)), which makes them exactly 0 or 1, so the
encoding y and every extracted digit are exact (integer pre-activations below 2^53, or one
nonzero dyadic term); only the running sum and the output carry the ~1e-12·q rounding.

ReLU carries values through σ(t) = t, valid because every carried quantity is ≥ 0 off the band
(values are stored relative to their minimum); PReLU carries with slope 1 and builds |a − j| with
one slope −1 neuron. In the band the copies compute finite garbage, which the median discards.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..mlp import MLP, check_activation
from ..targets.holder import holder_constants
from . import check_cells
from ._optimal_counts import depth, error_bound, num_nonzero, num_params, width
from ._optimal_data import _network, snake_order
from ._optimal_layers import (MAX_BLOCK_FLOAT64, OFFSETS, QUANT_MARGIN, STEP_SCALE, _assemble, grid_side, num_blocks,
                              structural_nonzero)

# the family's functions (experts.get("optimal"), documented in docs/api.md; the constants are importable
# too); the stages live in _optimal_layers (the network), _optimal_data (the values), _optimal_counts (closed forms)
__all__ = ["build", "build_exact", "evaluate", "grid_side", "num_blocks", "snake_order", "structural_nonzero", "depth",
           "width", "num_params", "num_nonzero", "error_bound"]

SIZE_DEFAULTS = {"A": 4, "B": 4}
SIZE_LIMITS = {"B": MAX_BLOCK_FLOAT64}  # largest sizes build() accepts (float64); rates.budget_solve stays within


def _check_build(target, lo, hi, activation, A, B):
    holder_constants(target, "expert='optimal' (its quantisation step C (h/M)^α, docs/theory.md §4.4)")
    activation = check_activation(activation)
    check_int(A, "A")
    check_int(B, "B")
    lo, hi = check_cells(lo, hi, target.n)
    return activation, lo, hi


def build(target, lo, hi, *, activation: str = "relu", A: int = 4, B: int = 4) -> MLP:
    """One optimal-rate expert per cell [lo[i], hi[i]] (docs/theory.md §4.4), float64 weights.

    Parameters
    ----------
    target : HolderTarget
    lo, hi : array_like
        Cell corners, shape (L, n).
    activation : {"relu", "prelu"}, default "relu"
    A : int, default 4
        Blocks.
    B : int, default 4
        Cubes per block, at most 27 in float64.

    Returns
    -------
    MLP
        A stack (L,); error at most :func:`error_bound` (q(1/2 + 2^−α)).

    Raises
    ------
    ValueError
        For B > 27: float64 cannot hold a block's 2(B − 1) encoded bits nor extract them exactly;
        use :func:`build_exact` with :func:`moe_approx.exact.evaluate_exact`. Also for sizes < 1,
        malformed cells or an unknown activation.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import optimal
    >>> f = targets.get("kink", n=1)
    >>> nets = optimal.build(f, np.zeros((1, 1)), np.ones((1, 1)), A=4, B=4)
    >>> x = np.linspace(0, 1, 2001)[None, :, None]
    >>> err = np.abs(optimal.evaluate(nets, x) - np.asarray(f(x)))
    >>> bool(err.max() <= optimal.error_bound(1.0, 1.0, 1.0, 1, A=4, B=4))
    True
    >>> optimal.build(f, np.zeros((1, 1)), np.ones((1, 1)), B=28)
    Traceback (most recent call last):
    ...
    ValueError: B=28 exceeds float64's range for the optimal expert ...
    """
    activation, lo, hi = _check_build(target, lo, hi, activation, A, B)
    if B > MAX_BLOCK_FLOAT64:
        raise ValueError(
            f"B={B} exceeds float64's range for the optimal expert (B <= {MAX_BLOCK_FLOAT64}: a block encodes "
            f"2(B-1) = {2 * (B - 1)} bits, more than the 53 of a float64 significand); build it with "
            f"moe_approx.experts.optimal.build_exact and evaluate it with moe_approx.exact.evaluate_exact")
    layers, out = _network(target, lo, hi, activation, grid_side(target.n, A, B), B, exact=False)
    return _assemble(layers, out, target.n, activation, lo.shape[0], np.float64)


def build_exact(target, lo, hi, *, activation: str = "relu", A: int = 4, B: int = 4) -> MLP:
    """The same experts with exact rational weights (object arrays of ``Fraction``), any B >= 2.

    Only :func:`moe_approx.exact.evaluate_exact` evaluates them.

    Parameters
    ----------
    target, lo, hi, activation, A, B
        As in :func:`build`, without the limit on B.

    Returns
    -------
    MLP
        With ``Fraction`` weights.

    Raises
    ------
    ValueError
        For sizes < 1, malformed cells or an unknown activation.

    Examples
    --------
    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from moe_approx import exact, targets
    >>> from moe_approx.experts import optimal
    >>> f = targets.get("kink", n=1)
    >>> net = optimal.build_exact(f, np.zeros((1, 1)), np.ones((1, 1)), A=2, B=2)
    >>> isinstance(net.layers[0][0][0, 0, 0], Fraction)
    True
    >>> x = np.array([[[0.1], [0.6]]])
    >>> bool(np.all(np.abs(exact.evaluate_exact(net, x).astype(float) - np.asarray(f(x))) <= optimal.error_bound(1.0, 1.0, 1.0, 1, A=2, B=2)))
    True
    """
    activation, lo, hi = _check_build(target, lo, hi, activation, A, B)
    layers, out = _network(target, lo, hi, activation, grid_side(target.n, A, B), B, exact=True)
    return _assemble(layers, out, target.n, activation, lo.shape[0], object)


def evaluate(net: MLP, x) -> np.ndarray:
    """``net(x)[..., 0]`` with a numpy loop over layers (no compilation; deep nets are cheap here).

    A stack (L,) maps x of shape (L, P, n) to (L, P); a single network (..., n) to (...).

    Parameters
    ----------
    net : MLP
    x : array_like

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> from moe_approx.experts import optimal
    >>> optimal.evaluate(calculus.maximum(2), np.array([[1.0, 3.0]]))
    array([3.])
    """
    h = np.asarray(x, dtype=np.float64)
    for l, (W, b) in enumerate(net.layers):
        W, b = np.asarray(W), np.asarray(b)
        h = h @ W + (b[..., None, :] if b.ndim > 1 else b)
        if l < len(net.slopes):
            a = np.asarray(net.slopes[l])
            a = a[..., None, :] if a.ndim > 1 else a
            h = np.maximum(h, 0.0) + a * np.minimum(h, 0.0)
    return h[..., 0]
