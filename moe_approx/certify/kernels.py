"""The jitted per-box kernels: the point (Lipschitz, per-axis) bound and the affine-form bound of
|f − Φ| (docs/theory.md §5, §9); module docstring of :mod:`moe_approx.certify`."""

from __future__ import annotations

from functools import partial, reduce

import jax
import jax.numpy as jnp

from ..assumptions import TARGET_RTOL
from ..lipschitz import UNIT_ROUNDOFF, gamma
from ..mlp import index_stack
from .report import is_formula
from .._config import kernel_jit

SHORT_AXIS = 8  # row reductions over at most this many entries are unrolled (row_sum, row_max)


def _rows(op, fallback, x):
    """``op`` folded over the last axis of x, or ``fallback(x, axis=-1)`` where that axis is long."""
    if x.shape[-1] > SHORT_AXIS:
        return fallback(x, axis=-1)
    return reduce(op, [x[..., i] for i in range(x.shape[-1])])


def row_sum(x):
    """Σ over the last axis. Unrolled where it is short (n, or n + 1 nodes): XLA's CPU reductions over a
    short minor axis cost about five times the elementwise operations (bench_supnorm case 2, 65,536
    boxes in n = 2); not on the Kuhn kernel's (N, M, P, n) arrays, where it measured slower (case 8:
    21 s against 15 s). The rounding bounds hold for any order of summation (γ_k)."""
    return _rows(jnp.add, jnp.sum, x)


def row_max(x):
    """max over the last axis, unrolled where it is short (:func:`row_sum`)."""
    return _rows(jnp.maximum, jnp.max, x)


def power(x, a):
    """x^a; x itself for a = 1 (exact either way; pow costs an exp and a log per entry)."""
    return x if a == 1 else x**a


def _target_terms(target, grad, radius):
    """ω (or its first-order replacement) and the Taylor remainder T(ρ) (None without ∇f), boxes (N, n)."""
    omega, _ = _holder_terms(target, radius)
    taylor = None
    if grad is not None:
        taylor = float(target.taylor_remainder_bound(1.0)) * power(row_max(radius), target.smoothness)
        omega = jnp.minimum(omega, row_sum(jnp.abs(grad) * radius) + taylor)
    return omega, taylor


def _holder_terms(target, radius):
    """ω(B) = C ρ^α, or min(C ρ^α, Σ_i C_i r_i^α) with declared per-axis constants C_i (docs/theory.md §5),
    and the per-axis terms (C_i r_i^α, or C r_i^α) that steer the splitting."""
    isotropic = target.constant * power(row_max(radius), target.alpha)
    axis_constants = getattr(target, "axis_constants", None)
    if axis_constants is None:
        return isotropic, target.constant * power(radius, target.alpha)
    per_axis = jnp.asarray(axis_constants) * power(radius, target.alpha)
    return jnp.minimum(isotropic, row_sum(per_axis)), per_axis


def _target_values(target, x):
    """f(x) and, for smoothness s in (1, 2], ∇f(x), for points (N, n)."""
    if target.derivative_order == 1:
        return target.fn(x), jax.grad(lambda z: jnp.sum(target.fn(z)))(x)
    return target.fn(x), None



def _box_ends(centre, radius):
    """The box [c − r, c + r] in floats, clipped to the cube: it covers the box's points (moe_approx.boxes)."""
    return jnp.maximum(centre - radius, 0.0), jnp.minimum(centre + radius, 1.0)


def formula_values(target, centre, radius, known=None):
    """Rigorous enclosures of a formula f on the boxes centre ± radius (:func:`_box_ends`) and at their
    centres (N, n): (f_lo, f_hi, defined) on the boxes, (c_lo, c_hi) at the centres. ``known``: the
    point kernel's fifth output for these boxes, (N, 5), the same numbers (a second-bound kernel then
    compiles no enclosure of f); else one call of the compiled enclosure on boxes and centres (two calls
    would compile its code twice)."""
    if known is not None:
        return known[:, 0], known[:, 1], known[:, 2] > 0, known[:, 3], known[:, 4]
    N = centre.shape[0]
    lo, hi = _box_ends(centre, radius)
    f_lo, f_hi, defined = target._compiled["value"](jnp.concatenate([lo, centre]), jnp.concatenate([hi, centre]))
    return f_lo[:N], f_hi[:N], defined[:N], f_lo[N:], f_hi[N:]


def formula_gradient(target, centre, radius, known=None):
    """A rigorous enclosure (d_lo, d_hi) (N, n) of ∇f on the boxes centre ± radius (:func:`_box_ends`):
    the columns after the point kernel's five in ``known`` where the evaluator appended them (one compiled
    enclosure per chunk shape, shared with the cells' slopes), else the compiled enclosure inlined."""
    n = centre.shape[-1]
    if known is not None and known.shape[-1] == 5 + 2 * n:
        return known[:, 5 : 5 + n], known[:, 5 + n :]
    return target._compiled["gradient"](*_box_ends(centre, radius))


@partial(kernel_jit, static_argnums=0)
def _point_kernel(target, experts, slot_cell, slot_point, point_lane, centre, radius, cell, lip, delta, lip_axes):
    """f(c), Φ(c), the Lipschitz upper bound, the lower bound, ∇f(c) (or None; for a formula, f's
    enclosures (N, 5) that the second-bound kernels take in its place, :func:`formula_values`), the f-variation
    term used (ω(ρ), or half the enclosure's width for a formula) and a declared f's per-axis
    variation on the box (for the splitting; zeros for a formula, whose per-cell slopes the
    evaluator holds), for boxes (N, n). Φ's variation: min(Λ_l ρ, Σ_i Λ_{l,i} r_i). ``experts`` may be
    the Kuhn pieces of cpwl experts (:class:`.kuhn.KuhnPieces`), which give Φ(c) and its δ per box."""
    if hasattr(experts, "evaluate_centres"):
        phi, box_delta = experts.evaluate_centres(cell, centre, lip[cell])
    else:
        phi = index_stack(experts, slot_cell)(centre[slot_point])[..., 0].ravel()[point_lane]
        box_delta = delta[cell]
    variation = jnp.minimum(lip[cell] * row_max(radius), row_sum(lip_axes[cell] * radius))
    if is_formula(target):  # sup_B |f − Φ| <= max(f_hi − Φ_lo, Φ_hi − f_lo), Φ(B) ⊆ Φ(c) ± (Λρ + δ)
        f_lo, f_hi, defined, c_lo, c_hi = formula_values(target, centre, radius)
        fc = 0.5 * (c_lo + c_hi)
        rounding = box_delta + TARGET_RTOL * (jnp.abs(phi) + variation + jnp.abs(f_lo) + jnp.abs(f_hi))
        upper = jnp.where(defined, jnp.maximum(f_hi - phi, phi - f_lo) + variation + rounding, jnp.inf)
        low = jnp.maximum(jnp.maximum(c_lo - phi, phi - c_hi) - box_delta - TARGET_RTOL * jnp.abs(phi), 0.0)
        known = jnp.stack([f_lo, f_hi, defined.astype(f_lo.dtype), c_lo, c_hi], axis=-1)  # for the second bound
        return fc, phi, upper, low, known, 0.5 * (f_hi - f_lo), jnp.zeros_like(radius)  # f's slopes: per cell
    fc, grad = _target_values(target, centre)
    omega, _ = _target_terms(target, grad, radius)
    per_axis = _holder_terms(target, radius)[1]
    gap = jnp.abs(fc - phi)
    point = _point_margin(box_delta, fc, gap)
    upper = (gap + point + omega + variation) * (1 + TARGET_RTOL)  # covers ω's and Λρ's rounding and the sums
    return fc, phi, upper, jnp.maximum(gap - point, 0.0), grad, omega, per_axis


def _point_margin(delta, fc, gap):
    """A bound of |fl(f(c) − Φ(c)) − (f(c) − Φ(c))|: Φ's rounding δ, f's (TARGET_RTOL relative) and the subtraction's."""
    return delta + TARGET_RTOL * abs(fc) + UNIT_ROUNDOFF * gap


def _lift(v, extra: int):
    """A per-neuron array (d,) or (S, d) broadcast against (S, P, [k,] d)."""
    if v.ndim == 1:
        return v
    return v.reshape(v.shape[:1] + (1,) * (extra + 1) + v.shape[1:])


def _affine_form(nets, centre, radius):
    """Φ's affine form g₀ + g·u ± rem on each box and its rounding bound (module docstring).

    ``nets``: one expert per slot (stack (S,), or shared layers), boxes (S, P, n). Returns (S, P) arrays
    g₀, rem, margin and g (S, P, n).
    """
    S, P, n = centre.shape
    h = jnp.concatenate([centre[:, :, None, :], radius[..., None] * jnp.eye(n)], axis=2)  # centre row, generators
    bias_rows = jnp.zeros(n + 1).at[0].set(1.0)[:, None]
    rem = jnp.zeros((S, P, n))  # interval remainder of the form
    mag = jnp.abs(centre) + radius  # bound of |layer input| on the box
    err = jnp.zeros((S, P, n))  # crude bound of the accumulated rounding error (widens the intervals)
    rounding, chords, slacks = [], [], []
    for l, (w, b) in enumerate(nets.layers):
        batched = w.ndim == 3
        h = jnp.einsum("spkd,sde->spke" if batched else "spkd,de->spke", h, w) + bias_rows * _lift(b, 1)
        # |W| times the remainder, the magnitude and the rounding error: one stacked product
        stacked = jnp.einsum("spkd,sde->spke" if batched else "spkd,de->spke", jnp.stack([rem, mag, err], 2), jnp.abs(w))
        rem, mag_w, err_w = stacked[:, :, 0], stacked[:, :, 1], stacked[:, :, 2]
        # rounding of this layer: centre row, generator rows, remainder, each <= γ (|W|ᵀ|y| + |b|)
        rounding.append(3 * gamma(w.shape[-2] + 2) * (mag_w + _lift(jnp.abs(b), 0)))
        err = err_w + rounding[-1]
        if l < len(nets.slopes):
            a = _lift(nets.slopes[l], 0)
            h, rem, err, mag, chord, slack = _activation(h, rem, err, a)
            chords.append(chord)
            slacks.append(slack)
            err = jnp.maximum(1.0, jnp.abs(a)) * err
    # the rounding errors reach the output through the linearised network (chords): backward pass
    v = jnp.ones((S, P, 1))
    margin = jnp.sum(jnp.abs(v) * rounding[-1], -1)
    for l in range(len(nets.slopes) - 1, -1, -1):
        w = nets.layers[l + 1][0]
        vy = jnp.einsum("spe,sde->spd", v, w) if w.ndim == 3 else v @ w.T
        v = chords[l] * vy
        margin = margin + jnp.sum(jnp.abs(vy) * slacks[l] + jnp.abs(v) * rounding[l], -1)
    return h[:, :, 0, 0], h[:, :, 1:, 0], rem[..., 0], jnp.minimum(margin, err[..., 0])


def _activation(h, rem, err, a):
    """The chord relaxation of σ_a on the affine form (docs/theory.md §5).

    Also returns the bound of |σ_a| on the box, the chord slopes and the relaxation's rounding slack.
    """
    centre, gens = h[:, :, 0], h[:, :, 1:]
    radius = jnp.sum(jnp.abs(gens), axis=2) + rem + err
    lo, hi = centre - radius, centre + radius

    def sigma(t):
        return jnp.maximum(t, 0.0) + a * jnp.minimum(t, 0.0)

    s_lo, s_hi = sigma(lo), sigma(hi)
    crossing = (lo < 0) & (hi > 0)
    chord = jnp.where(crossing, (s_hi - s_lo) / jnp.where(crossing, hi - lo, 1.0), jnp.where(lo >= 0, 1.0, a))
    # σ(t) − chord·t on [lo, hi] is piecewise linear with its kink at 0: its range is spanned by three values
    v_lo, v_hi = s_lo - chord * lo, s_hi - chord * hi
    low = jnp.where(crossing, jnp.minimum(0.0, jnp.minimum(v_lo, v_hi)), 0.0)
    high = jnp.where(crossing, jnp.maximum(0.0, jnp.maximum(v_lo, v_hi)), 0.0)
    form = chord[:, :, None] * h
    form = form.at[:, :, 0].add(0.5 * (low + high))
    rem = jnp.abs(chord) * rem + 0.5 * (high - low)
    slack = jnp.where(crossing, gamma(4) * (jnp.abs(s_lo) + jnp.abs(s_hi) + jnp.abs(chord) * (hi - lo)), 0.0)
    mag = jnp.maximum(jnp.abs(s_lo), jnp.abs(s_hi))  # σ_a is piecewise linear with σ_a(0) = 0
    return form, rem, err + slack, mag, chord, slack


@partial(kernel_jit, static_argnums=0)
def _affine_kernel(target, experts, slot_cell, slot_point, point_lane, centre, radius, fc, grad):
    """The affine-form upper bound of boxes (N, n) with known f(c) (and ∇f(c) for first-order targets;
    for a formula, ``grad`` is None or the point kernel's enclosures of f, :func:`formula_values`).

    For a formula: the smaller of max(f_hi − Φ_lo, Φ_hi − f_lo) with Φ(B) ⊆ g₀ ± (Σ|g_i| + ρ_Φ) and the
    mean-value form |f(c) − g₀| + Σ_i max_{∂_i f ∈ ∇f(B)} |∂_i f r_i − g_i| + ρ_Φ (docs/theory.md §9).
    """
    g0, g, rem, err = (o.reshape((-1,) + o.shape[2:])[point_lane] for o in
                       _affine_form(index_stack(experts, slot_cell), centre[slot_point], radius[slot_point]))
    g_abs = row_sum(jnp.abs(g))
    if is_formula(target):
        f_lo, f_hi, defined, c_lo, c_hi = formula_values(target, centre, radius, grad)
        natural = jnp.where(defined, jnp.maximum(f_hi - (g0 - g_abs), (g0 + g_abs) - f_lo), jnp.inf)
        d_lo, d_hi = formula_gradient(target, centre, radius, grad)
        slope = jnp.maximum(jnp.abs(d_lo * radius - g), jnp.abs(d_hi * radius - g))
        mean_value = jnp.maximum(c_hi - g0, g0 - c_lo) + row_sum(jnp.where(jnp.isfinite(slope), slope, jnp.inf))
        upper = jnp.minimum(natural, jnp.where(defined, mean_value, jnp.inf))
        scale = jnp.abs(f_lo) + jnp.abs(f_hi) + jnp.abs(g0) + g_abs + rem
        return (upper + rem + err + TARGET_RTOL * scale,)
    omega, _ = _holder_terms(target, radius)
    gap = jnp.abs(fc - g0)
    upper = gap + g_abs + omega
    scale = jnp.abs(fc) + jnp.abs(g0) + g_abs + rem + omega
    if grad is not None:
        _, taylor = _target_terms(target, grad, radius)
        upper = jnp.minimum(upper, gap + row_sum(jnp.abs(grad * radius - g)) + taylor)
        scale = scale + row_sum(jnp.abs(grad) * radius) + taylor
    return (upper + rem + err + TARGET_RTOL * scale,)
