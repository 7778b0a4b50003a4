"""Linear bounds of a (P)ReLU network on a box, and of f − Φ (CROWN; docs/theory.md §5).

On a box B = c + [−r, r] (centre c, per-axis radius r), :func:`linear_bounds` returns floats
a_lo, b_lo, a_up, b_up and a margin m with, for every real t ∈ [−r, r] and the network Φ in real
arithmetic,

    a_lo·t + b_lo − m  <=  Φ(c + t)  <=  a_up·t + b_up + m.

Backward linear relaxation (Zhang et al., NeurIPS 2018, arXiv:1811.00866): every hidden layer's
pre-activation bounds [l, u] come from the same backward pass started at that layer (full CROWN,
``intermediate="crown"``) or from linear bounds carried forward with the same lines (``"forward"``:
about a hundred times cheaper on deep, wide experts, somewhat looser). A neuron with a fixed sign is
exact; a crossing one (l < 0 < u, slope a) is bounded by its chord and a line λz with λ ∈ [a, 1] (a ≤ 1, σ convex: chord above) or
λ ∈ [1, a] (a > 1, σ concave: chord below), λ = 1 if u ≥ −l else a. The centred input t = x − c
keeps the intercepts at the scale of Φ(c).

Float64 (docs/theory.md §5): each backward step adds γ_D times the magnitudes of the products it
rounds (the dot-product bound of Higham 2002, §3.1, D = widest layer + 2) to an error bound E; the
chord intercepts carry their own slack; m = 2E covers the rounding of E itself.
:func:`linear_error_bound` and :func:`range_error_bound` turn the lines into upper bounds of
sup_B |f − Φ|, :func:`linear_kernel` does it per box with the calling convention of the
sup-norm kernels.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..assumptions import TARGET_RTOL
from .kernels import formula_gradient, formula_values, power
from .report import is_formula
from ..lipschitz import gamma
from ..mlp import MLP, index_stack
from .._config import kernel_jit


class LinearBounds(NamedTuple):
    """a_lo·t + b_lo − margin <= Φ(c + t) <= a_up·t + b_up + margin for t ∈ [−r, r] (module docstring)."""

    a_lo: jax.Array  # (..., n)
    b_lo: jax.Array  # (...)
    a_up: jax.Array  # (..., n)
    b_up: jax.Array  # (...)
    margin: jax.Array  # (...)


def _relaxation(l, u, a):
    """The lines of σ_a on [l, u] per neuron: (upper slope, upper intercept, lower slope, lower
    intercept, slack) with σ_a <= upper + slack and σ_a >= lower − slack on [l, u] (docs/theory.md §5)."""
    crossing = (l < 0) & (u > 0)
    chord = jnp.where(crossing, (u - a * l) / jnp.where(crossing, u - l, 1.0), jnp.where(l >= 0, 1.0, a))
    # a line through σ_a(l), σ_a(u) with the computed slope: above both ends (convex) or below (concave)
    at_l, at_u = a * l - chord * l, u - chord * u
    convex = a <= 1
    intercept = jnp.where(crossing, jnp.where(convex, jnp.maximum(at_l, at_u), jnp.minimum(at_l, at_u)), 0.0)
    slack = jnp.where(crossing, gamma(4) * (jnp.abs(a * l) + jnp.abs(chord * l) + jnp.abs(u) + jnp.abs(chord * u)), 0.0)
    lam = jnp.where(crossing, jnp.where(u >= -l, 1.0, a), chord)  # σ_a(z) >= λz (a <= 1) or <= λz (a > 1)
    return (jnp.where(convex, chord, lam), jnp.where(convex, intercept, 0.0),
            jnp.where(convex, lam, chord), jnp.where(convex, 0.0, intercept), slack)


def _backward(layers, bias0, mags, hidden, k, g, gam, spans=()):
    """Upper bounds of the functionals z_k·g (the columns of g, (d_k, m)) as A·t + κ + E, t ∈ [−r, r].

    ``bias0``: the per-box first-layer bias c·W_0 + b_0; ``mags[j]``: a bound of |y_{j−1}|·|W_j| + |b_j|
    (for j = 0 also the rounding of ``bias0``); ``hidden[j]``: (the lines of :func:`_relaxation`, max|z_j|).
    Each step adds ``gam`` times the magnitudes it rounds to E (docs/theory.md §5). Layers s + 2..e of a
    span (s, e) of :func:`_square_runs` are stacked and taken by one ``lax.scan`` (the same operations,
    compiled once). Returns A (n, m), κ, E (m,).
    """
    carry = (g, jnp.zeros(g.shape[1]), jnp.zeros(g.shape[1]))
    start = {j: s for s, e in spans for j in range(s + 2, e + 1)}  # layers s + 1..j have one shape
    j = k
    while j > 0:
        if j in start:
            items = [(*layers[i + 1], mags[i + 1], hidden[i]) for i in range(start[j], j)]
            stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *items)
            carry, _ = jax.lax.scan(lambda c, x: (_back_step(c, *x, gam), None), carry, stacked, reverse=True)
            j = start[j]
        else:
            carry = _back_step(carry, *layers[j], mags[j], hidden[j - 1], gam)
            j -= 1
    lam, kappa, err = carry
    err = err + gam * (jnp.abs(lam).T @ mags[0] + jnp.abs(kappa))  # z_0 = t W_0 + (c W_0 + b_0)
    return layers[0][0] @ lam, kappa + bias0 @ lam, err


def _back_step(carry, w, b, mag, hid, gam):
    """Layer j >= 1 of :func:`_backward` (z_j = y_{j−1} W_j + b_j), then the relaxation of y_{j−1} = σ(z_{j−1})."""
    lam, kappa, err = carry
    err = err + gam * (jnp.abs(lam).T @ mag + jnp.abs(kappa))
    lam, kappa = w @ lam, kappa + b @ lam
    (up_s, up_i, lo_s, lo_i, slack), z_abs = hid  # one line per sign
    pos = lam >= 0
    slope, icpt = jnp.where(pos, up_s[:, None], lo_s[:, None]), jnp.where(pos, up_i[:, None], lo_i[:, None])
    mu, shift = lam * slope, lam * icpt
    err = err + gam * (jnp.abs(mu).T @ z_abs + jnp.abs(shift).sum(0) + jnp.abs(kappa)) + jnp.abs(lam).T @ slack
    return mu, kappa + shift.sum(0), err


def _upper(a, kappa, err, radius):
    """A float upper bound of max_{|t| <= r} a·t + κ + 2E (columns of a (n, m)), rounding included."""
    total = kappa + jnp.abs(a).T @ radius + 2 * err
    return total + 2 * gamma(radius.shape[-1] + 3) * (jnp.abs(kappa) + jnp.abs(a).T @ radius + 2 * err)


def _sigma(z, a):
    return jnp.maximum(z, 0.0) + a * jnp.minimum(z, 0.0)


def _forward_step(state, lines, w, b, radius, gam):
    """The forward linear bounds of z_{k+1} = σ(z_k) W + b from those of z_k: each of the lower and upper
    bounds is (P (n, d), q (d,), e (d,)) with P·t + q ∓ e bounding z (docs/theory.md §5)."""
    (p_lo, q_lo, e_lo), (p_up, q_up, e_up) = state
    up_s, up_i, lo_s, lo_i, slack = lines

    def line(s, icpt, rising, falling):  # s·z + icpt with z replaced by its bound on the side s needs
        (p_r, q_r, e_r), (p_f, q_f, e_f) = rising, falling
        pos = s >= 0
        p, q, e = jnp.where(pos, p_r, p_f), jnp.where(pos, q_r, q_f), jnp.where(pos, e_r, e_f)
        err = jnp.abs(s) * e + slack + gam * (jnp.abs(s) * (radius @ jnp.abs(p) + jnp.abs(q)) + jnp.abs(icpt))
        return p * s, q * s + icpt, err

    y_up = line(up_s, up_i, (p_up, q_up, e_up), (p_lo, q_lo, e_lo))
    y_lo = line(lo_s, lo_i, (p_lo, q_lo, e_lo), (p_up, q_up, e_up))
    w_pos, w_neg = jnp.maximum(w, 0.0), jnp.minimum(w, 0.0)
    y_abs = radius @ (jnp.abs(y_up[0]) + jnp.abs(y_lo[0])) + jnp.abs(y_up[1]) + jnp.abs(y_lo[1])
    rounding = gam * (y_abs @ jnp.abs(w) + jnp.abs(b))

    def affine(top, bottom):  # top·W⁺ + bottom·W⁻ + b
        return (top[0] @ w_pos + bottom[0] @ w_neg, top[1] @ w_pos + bottom[1] @ w_neg + b,
                top[2] @ w_pos - bottom[2] @ w_neg + rounding)

    return affine(y_lo, y_up), affine(y_up, y_lo)


def _square_runs(layers, slopes) -> list[tuple[int, int]]:
    """Maximal ranges [s, e), e − s >= 2, of hidden layers k whose next layer is d × d with the same d
    (and the same slope shapes): their steps have one shape and run as one ``lax.scan``. A deep network
    (a depth-9 Yarotsky expert: 7 of 8) then compiles like a shallow one."""
    def shape(k):
        (w, b), d = layers[k + 1], slopes[k].shape[-1]
        return (w.shape, b.shape, slopes[k].shape) if w.shape == (d, d) else None

    runs, k = [], 0
    while k < len(slopes):
        e = k + 1
        while shape(k) is not None and e < len(slopes) and shape(e) == shape(k):
            e += 1
        runs += [(k, e)] if e - k >= 2 else []
        k = e
    return runs


def _layer_terms(lo, hi, a, w, b):
    """Hidden layer k with z_k in [lo, hi]: its relaxation lines and max|z_k|, and the bound of
    |y_k|·|W_{k+1}| + |b_{k+1}| (the next layer's magnitudes)."""
    y_abs = jnp.maximum(jnp.abs(_sigma(lo, a)), jnp.abs(_sigma(hi, a)))
    return (_relaxation(lo, hi, a), jnp.maximum(jnp.abs(lo), jnp.abs(hi))), y_abs @ jnp.abs(w) + jnp.abs(b)


def _hidden_layer(forward, a, w, b, radius, gam):
    """Hidden layer k from the forward bounds of z_k: :func:`_layer_terms`, its interval, and the forward
    bounds of z_{k+1}."""
    (p_lo, q_lo, e_lo), (p_up, q_up, e_up) = forward
    lo, hi = -_upper(-p_lo, -q_lo, e_lo, radius), _upper(p_up, q_up, e_up, radius)
    hidden, mag = _layer_terms(lo, hi, a, w, b)
    return _forward_step(forward, hidden[0], w, b, radius, gam), hidden, (lo, hi), mag


def _forward_pass(layers, slopes, spans, forward, radius, gam):
    """The hidden layers' relaxations, intervals and mags by forward bounds (``intermediate="forward"``), the
    layers of each span of :func:`_square_runs` in one ``lax.scan``."""
    def step(forward, x):
        forward, *out = _hidden_layer(forward, *x, radius, gam)
        return forward, tuple(out)

    hidden, intervals, mags, k, ends = [], [], [], 0, dict(spans)
    while k < len(slopes):
        e = ends.get(k)
        if e is not None:
            xs = tuple(jnp.stack(a) for a in zip(*[(slopes[j],) + tuple(layers[j + 1]) for j in range(k, e)]))
            forward, (hid, iv, mag) = jax.lax.scan(step, forward, xs)
            hidden += [jax.tree_util.tree_map(lambda v: v[i], hid) for i in range(e - k)]
            intervals, mags, k = intervals + [(iv[0][i], iv[1][i]) for i in range(e - k)], mags + list(mag), e
        else:
            forward, hid, iv, mag = _hidden_layer(forward, slopes[k], *layers[k + 1], radius, gam)
            hidden, intervals, mags, k = hidden + [hid], intervals + [iv], mags + [mag], k + 1
    return hidden, intervals, mags


def _one(layers, slopes, centre, radius, intermediate):
    """LinearBounds of one network on one box and the hidden pre-activations' bounds ((lo, hi) per layer)."""
    width = max(max(w.shape[-2:]) for w, _ in layers)
    gam = gamma(width + 2)
    w0, b0 = layers[0]
    bias0 = centre @ w0 + b0
    mags = [(jnp.abs(centre) + radius) @ jnp.abs(w0) + jnp.abs(b0) + jnp.abs(bias0)]
    spans = _square_runs(layers, slopes) if intermediate == "forward" else ()  # (crown: scans in its depth
    # backward passes compiled slower, 3.96 s against 3.06 s for a depth-9 Yarotsky expert)
    if intermediate == "forward":
        hidden, intervals, more = _forward_pass(layers, slopes, spans, ((w0, bias0, gam * mags[0]),) * 2, radius,
                                                gamma(2 * width + 2))
        mags += more
    else:
        hidden, intervals = [], []
        for k, a in enumerate(slopes):
            d = a.shape[-1]
            g = jnp.concatenate([jnp.eye(d), -jnp.eye(d)], 1)
            top = _upper(*_backward(layers, bias0, mags, hidden, k, g, gam), radius)
            intervals.append((-top[d:], top[:d]))
            hid, mag = _layer_terms(*intervals[-1], a, *layers[k + 1])
            hidden, mags = hidden + [hid], mags + [mag]
    a_out, kappa, err = _backward(layers, bias0, mags, hidden, len(slopes), jnp.array([[1.0, -1.0]]), gam, spans)
    return LinearBounds(-a_out[:, 1], -kappa[1], a_out[:, 0], kappa[0], 2 * jnp.max(err)), tuple(intervals)


@partial(kernel_jit, static_argnums=3)
def _linear_bounds(nets, centre, radius, intermediate="crown"):
    """LinearBounds (S, P) of a stack of networks (S,) (shared layers allowed) on boxes (S, P, n), and the
    hidden pre-activations' bounds ((lo, hi) (S, P, d_k) per hidden layer)."""
    def stacked(leaf, core):
        return 0 if leaf.ndim > core else None

    layers = tuple((jnp.asarray(w), jnp.asarray(b)) for w, b in nets.layers)
    slopes = tuple(jnp.broadcast_to(jnp.asarray(a, jnp.float64), jnp.shape(b))
                   for a, (_, b) in zip(nets.slopes, layers))
    axes = (tuple((stacked(w, 2), stacked(b, 1)) for w, b in layers), tuple(stacked(a, 1) for a in slopes))
    per_box = jax.vmap(partial(_one, intermediate=intermediate), in_axes=(None, None, 0, 0))
    return jax.vmap(per_box, in_axes=axes + (0, 0))(layers, slopes, centre, radius)


INTERMEDIATE = ("crown", "forward")


def linear_bounds(nets, centre, radius, intermediate: str = "crown") -> LinearBounds:
    """Linear lower and upper bounds of each network on each box, with their float64 margin.

    Parameters
    ----------
    nets : MLP
        A stack (S,) of (P)ReLU networks R^n → R (layers shared by the stack may be unbatched), or one
        network (then S may be anything).
    centre, radius : array_like, shape (S, P, n)
        The boxes c + [−r, r], P per network; r >= 0.
    intermediate : {"crown", "forward"}
        How the hidden pre-activations are bounded: "crown", a backward pass from every hidden layer
        (tightest; cost ~ depth² width³ per box); "forward", linear bounds carried forward through the
        layers (cost ~ depth·n·width²; looser on deep networks). The output bound is a backward pass in both.

    Returns
    -------
    LinearBounds
        a_lo, a_up (S, P, n) and b_lo, b_up, margin (S, P): for every t ∈ [−r, r],
        a_lo·t + b_lo − margin <= Φ(c + t) <= a_up·t + b_up + margin (docs/theory.md §5).

    Raises
    ------
    TypeError
        If ``nets`` is not an MLP.
    ValueError
        If the shapes disagree, the output is not scalar, or a radius is negative or not finite.

    Examples
    --------
    |x| = σ(x) + σ(−x) on [−1, 2]: the chords give the upper line, x ↦ ±x the lower one.

    >>> import numpy as np
    >>> from moe_approx import MLP
    >>> from moe_approx.certify.linear import linear_bounds
    >>> net = MLP(((np.array([[1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))), (np.zeros(2),))
    >>> lb = linear_bounds(net, np.full((1, 1, 1), 0.5), np.full((1, 1, 1), 1.5))
    >>> [round(float(v), 12) for v in (lb.a_up[0, 0, 0], lb.b_up[0, 0], lb.a_lo[0, 0, 0], lb.b_lo[0, 0])]
    [0.333333333333, 1.5, 1.0, 0.5]
    >>> bool(0 < lb.margin[0, 0] < 1e-13)
    True
    """
    return _checked(nets, centre, radius, intermediate)[0]


def preactivation_bounds(nets, centre, radius, intermediate: str = "crown") -> tuple:
    """Bounds (lo, hi), each (S, P, d_k), of every hidden layer's pre-activations on each box: the intervals
    that :func:`linear_bounds` relaxes (same arguments; proven for real arithmetic, rounding included)."""
    return _checked(nets, centre, radius, intermediate)[1]


def _checked(nets, centre, radius, intermediate):
    """_linear_bounds after checking the arguments of :func:`linear_bounds`."""
    if not isinstance(nets, MLP):
        raise TypeError(f"nets must be an MLP (a stack of experts), got {type(nets).__name__}")
    if intermediate not in INTERMEDIATE:
        raise ValueError(f"intermediate must be one of {INTERMEDIATE}, got {intermediate!r}")
    n, out = np.shape(nets.layers[0][0])[-2], np.shape(nets.layers[-1][0])[-1]
    if out != 1:
        raise ValueError(f"nets must have a scalar output, got output width {out}")
    centre, radius = jnp.asarray(centre, jnp.float64), jnp.asarray(radius, jnp.float64)
    for name, arr in (("centre", centre), ("radius", radius)):
        if arr.ndim != 3 or arr.shape[-1] != n:
            raise ValueError(f"{name} must have shape (S, P, {n}), got {arr.shape}")
    if centre.shape != radius.shape:
        raise ValueError(f"centre and radius must have the same shape, got {centre.shape} and {radius.shape}")
    if not bool(jnp.all(radius >= 0) & jnp.all(jnp.isfinite(radius)) & jnp.all(jnp.isfinite(centre))):
        raise ValueError("radius must be finite and >= 0, and centre finite")
    batch = {np.shape(w)[0] for w, _ in nets.layers if np.ndim(w) == 3}
    if batch and batch != {centre.shape[0]}:
        raise ValueError(f"centre has {centre.shape[0]} rows but the stack of networks has {batch.pop()}")
    return _linear_bounds(nets, centre, radius, intermediate)


def _pair(v, name):
    """(lo, hi) from a pair or from one array (lo = hi)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an array or a pair (lo, hi), got {len(v)} entries")
        return jnp.asarray(v[0], jnp.float64), jnp.asarray(v[1], jnp.float64)
    v = jnp.asarray(v, jnp.float64)
    return v, v


def _rounding(scale, n):
    """TARGET_RTOL (the target's evaluation) plus γ_{n+4} (the sums of the bound) times ``scale``."""
    return (TARGET_RTOL + gamma(n + 4)) * scale


def linear_error_bound(f_c, grad, a_lo, b_lo, a_up, b_up, radius, *, margin=0.0, remainder=0.0):
    """Upper bound of sup_B |f − Φ| from the mean-value form of f and the lines of Φ (docs/theory.md §5).

    With f(c + t) ∈ [f_lo(c), f_hi(c)] + ∇f·t, ∇f ∈ [d_lo, d_hi] on B (plus ± ``remainder``):

        f − Φ <= f_hi(c) − b_lo + m + R + Σ_i max(|d_lo,i − a_lo,i|, |d_hi,i − a_lo,i|) r_i,
        Φ − f <= b_up − f_lo(c) + m + R + Σ_i max(|d_lo,i − a_up,i|, |d_hi,i − a_up,i|) r_i.

    ``f_c``: f(c) or an enclosure (lo, hi); ``grad``: ∇f(c) (then ``remainder`` is the Taylor
    remainder T(ρ) of a first-order target) or an enclosure (d_lo, d_hi) of ∇f on the box (a formula;
    remainder 0). Arrays broadcast: f_c, b, margin (...), grad, a, radius (..., n). inf where the
    gradient enclosure is not finite.
    """
    f_lo, f_hi = _pair(f_c, "f_c")
    d_lo, d_hi = _pair(grad, "grad")
    radius = jnp.asarray(radius, jnp.float64)

    def slope(a):
        s = jnp.maximum(jnp.abs(d_lo - a), jnp.abs(d_hi - a)) * radius
        return jnp.sum(jnp.where(jnp.isfinite(s), s, jnp.inf), -1)

    above, below = f_hi - b_lo + slope(a_lo), b_up - f_lo + slope(a_up)
    scale = (jnp.abs(f_lo) + jnp.abs(f_hi) + jnp.abs(b_lo) + jnp.abs(b_up) + remainder + margin
             + jnp.sum((jnp.maximum(jnp.abs(d_lo), jnp.abs(d_hi)) + jnp.abs(a_lo) + jnp.abs(a_up)) * radius, -1))
    return jnp.maximum(above, below) + margin + remainder + _rounding(scale, radius.shape[-1])


def range_error_bound(f_box, a_lo, b_lo, a_up, b_up, radius, *, margin=0.0):
    """Upper bound of sup_B |f − Φ| from an enclosure f(B) ⊆ [f_lo, f_hi] and Φ's lines (docs/theory.md §5).

    max(f_hi − Φ_lo, Φ_hi − f_lo) with Φ_lo = b_lo − Σ|a_lo,i| r_i − m, Φ_hi = b_up + Σ|a_up,i| r_i + m.
    For a declared (α, C)-Hölder target pass f_box = (f(c) − Cρ^α, f(c) + Cρ^α).
    """
    f_lo, f_hi = _pair(f_box, "f_box")
    radius = jnp.asarray(radius, jnp.float64)
    spread_lo, spread_up = jnp.sum(jnp.abs(a_lo) * radius, -1), jnp.sum(jnp.abs(a_up) * radius, -1)
    upper = jnp.maximum(f_hi - (b_lo - spread_lo), (b_up + spread_up) - f_lo) + margin
    scale = jnp.abs(f_lo) + jnp.abs(f_hi) + jnp.abs(b_lo) + jnp.abs(b_up) + spread_lo + spread_up + margin
    return upper + _rounding(scale, radius.shape[-1])


@partial(kernel_jit, static_argnums=0, static_argnames="intermediate")
def linear_kernel(target, experts, slot_cell, slot_point, point_lane, centre, radius, fc, grad, intermediate="crown"):
    """The linear (CROWN) upper bound of sup |f − Φ| on boxes (N, n), in the calling convention of the
    sup-norm kernels: ``experts`` a stack (L,), boxes grouped into slots of one cell (``slot_cell`` (S,),
    ``slot_point`` (S, P) box indices, ``point_lane`` (N,) the flat lane of each box); ``fc`` = f(c)
    and ``grad`` = ∇f(c) (first-order targets, else None; for a formula, ``fc`` is unused and ``grad`` is
    None or the point kernel's enclosures of f, :func:`.kernels.formula_values`); ``intermediate`` as in
    :func:`linear_bounds`. Returns (upper,).

    A formula gets the smaller of the range form (interval enclosure of f on B) and the mean-value form;
    a declared target the range form with f(c) ± Cρ^α and, with ∇f(c), the first-order form with T(ρ).
    """
    lb = _linear_bounds(index_stack(experts, slot_cell), centre[slot_point], radius[slot_point], intermediate)[0]
    lines = [o.reshape((-1,) + o.shape[2:])[point_lane] for o in lb[:4]]
    margin = lb.margin.reshape(-1)[point_lane]
    if is_formula(target):
        f_lo, f_hi, defined, c_lo, c_hi = formula_values(target, centre, radius, grad)  # f on the box's points
        d_lo, d_hi = formula_gradient(target, centre, radius, grad)
        upper = jnp.minimum(range_error_bound((f_lo, f_hi), *lines, radius, margin=margin),
                            linear_error_bound((c_lo, c_hi), (d_lo, d_hi), *lines, radius, margin=margin))
        return (jnp.where(defined, upper, jnp.inf),)
    rho = jnp.max(radius, axis=-1)
    omega = target.constant * power(rho, target.alpha)
    upper = range_error_bound((fc - omega, fc + omega), *lines, radius, margin=margin + TARGET_RTOL * omega)
    if grad is not None:
        taylor = float(target.taylor_remainder_bound(1.0)) * power(rho, target.smoothness)
        upper = jnp.minimum(upper, linear_error_bound(fc, grad, *lines, radius, margin=margin, remainder=taylor))
    return (upper,)
