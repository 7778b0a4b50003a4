"""The certifier: a certified bracket of ‖f − Φ‖_∞ for a mixture of experts (docs/theory.md §5).

One module per concern: :mod:`.supnorm` (``sup_error``, ``box_bounds``: the entry points),
:mod:`.driver` (the branch and bound), :mod:`.state` (its open set and brackets), :mod:`.evaluator` (boxes grouped by cell, batched kernel
calls), :mod:`.kernels` (the per-box Lipschitz, per-axis and affine-form bounds), :mod:`.linear`
(the CROWN-style linear relaxation), :mod:`.kuhn` (the Kuhn pieces of cpwl experts), :mod:`.report` (``SupErrorReport`` and what ``certified``
means), :mod:`.vector` (vector targets: the ℓ∞ norm over components, bracketed componentwise). Box covering and splitting: :mod:`moe_approx.boxes`.

Branch and bound over boxes, each inside one cell (expert Φ_l), with centre c and per-axis
radius r (∞-radius ρ = max r). Every evaluated box gives

- a lower bound: |f(c) − Φ(c)| minus its rounding margin;
- the **Lipschitz bound** (one point evaluation): with Λ_l the expert's Lipschitz constant on its
  cell (:mod:`moe_approx.lipschitz`, computed once per cell),

      sup_B |f − Φ| ≤ |f(c) − Φ(c)| + ω(ρ) + Λ_l ρ,      ω(ρ) = C ρ^α,

  and for a target of smoothness s ∈ (1, 2] (∇f (s−1, D)-Hölder; T(ρ) = D n ρ^s Γ(s)/Γ(s+1) is
  ``HolderTarget.taylor_remainder_bound``) ω(ρ) is replaced by min(C ρ^α, Σ|∂_i f(c)| r_i + T(ρ));
- where it can win, the **affine-form bound**: Φ_l is enclosed by g₀ + g·u ± ρ_Φ for u ∈ [−1, 1]^n,
  propagated through the explicit weights (DeepZ-style chords; exact, ρ_Φ = 0, where no
  pre-activation changes sign on B), and

      sup_B |f − Φ| ≤ |f(c) − g₀| + Σ|g_i| + ρ_Φ + ω(ρ)                  (Hölder),
      sup_B |f − Φ| ≤ |f(c) − g₀| + Σ|∂_i f(c) r_i − g_i| + ρ_Φ + T(ρ)   (first order, s ∈ (1, 2]).

  It is computed for boxes not closed by the Lipschitz bound whose Lipschitz term Λ_l ρ exceeds the
  target's ω(ρ) (the expert's variation dominates, e.g. deep experts whose Λ_l is loose), and on every
  such box of a first-order target (its remainder is O(ρ²)). The box's bound is the smaller of the two.

Floating point (stated margins): the Lipschitz bound adds the per-cell rounding bound δ_l of Φ's
evaluation (:mod:`moe_approx.lipschitz`); the affine bound adds three times the dot-product rounding
bound per layer carried to the output by the linearised network (a backward pass through the chords);
both add ``TARGET_RTOL``·(the magnitudes summed), which covers the target's own evaluation error
(assumed below ``TARGET_RTOL`` relative) and the final sums.

The open boxes with the largest upper bounds are split (a batch at each step, halving the longest
axes, at most ``MAX_SPLIT_AXES`` of them) until ``upper − lower ≤ rtol·lower + atol``. Boxes are grouped
by cell into slots (a counting sort on the host); the experts' weights stay on the device and each
slot's weights are gathered inside the jitted kernel, which runs the experts as batched matmuls and
evaluates f, ∇f and both bounds in the same call. With several JAX devices the slots are sharded.
"""

from ..boxes import cell_grid
from .driver import branch_and_bound, family_of
from .report import SupErrorReport, basis, is_formula
from .supnorm import BOUNDS, box_bounds, sup_error

__all__ = ["sup_error", "box_bounds", "SupErrorReport", "BOUNDS", "branch_and_bound", "family_of", "basis",
           "is_formula", "cell_grid"]
