"""Linear (CROWN) bounds of (P)ReLU networks and of f − Φ on boxes (docs/theory.md §5): soundness against
dense numpy samples and box corners, exact rational arithmetic for the float64 margin, closed forms."""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx.certify.linear import (linear_bounds, linear_error_bound, linear_kernel, preactivation_bounds,
                                      range_error_bound)

SLOPES = {"relu": (0.0, 0.0), "negative": (-2.0, 0.0), "small": (0.0, 1.0), "large": (1.0, 3.0)}


def random_net(rng, n, depth, width, kind, stack=None):
    """A random (P)ReLU net R^n → R (a stack of ``stack`` nets if given) with slopes of the named kind."""
    lead = () if stack is None else (stack,)
    dims = (n,) + (width,) * (depth - 1) + (1,)
    layers = tuple((rng.standard_normal(lead + (a, b)) / np.sqrt(a), 0.5 * rng.standard_normal(lead + (b,)))
                   for a, b in zip(dims[:-1], dims[1:]))
    if kind == "mixed":
        slopes = tuple(rng.choice([0.0, -1.5, 0.5, 2.0], lead + (width,)) for _ in range(depth - 1))
    else:
        slopes = tuple(rng.uniform(*SLOPES[kind], lead + (width,)) for _ in range(depth - 1))
    return ma.MLP(layers, slopes, "relu" if kind == "relu" else "prelu")


def numpy_phi(net, x, index=None):
    """Φ(x) in numpy, x (..., n); ``index`` picks a network of a stack."""
    h = x
    for l, (w, b) in enumerate(net.layers):
        w, b = (np.asarray(v) if index is None else np.asarray(v)[index] for v in (w, b))
        h = h @ w + b
        if l < len(net.slopes):
            a = np.asarray(net.slopes[l]) if index is None else np.asarray(net.slopes[l])[index]
            h = np.maximum(h, 0.0) + a * np.minimum(h, 0.0)
    return h[..., 0]


def exact_phi(net, x):
    """Φ(x) in exact rational arithmetic (x a sequence of Fractions)."""
    h = list(x)
    for l, (w, b) in enumerate(net.layers):
        w, b = np.asarray(w), np.asarray(b)
        h = [sum((h[i] * Fraction(w[i, j]) for i in range(len(h))), Fraction(b[j])) for j in range(w.shape[1])]
        if l < len(net.slopes):
            a = np.asarray(net.slopes[l])
            h = [v if v >= 0 else Fraction(a[j]) * v for j, v in enumerate(h)]
    return h[0]


def corners(n):
    return np.array(np.meshgrid(*([[-1.0, 1.0]] * n), indexing="ij")).reshape(n, -1).T


def box_points(rng, centre, radius, samples):
    """The corners and ``samples`` uniform points of each box: (..., 2^n + samples, n)."""
    n = centre.shape[-1]
    u = np.concatenate([np.broadcast_to(corners(n), centre.shape[:-1] + (2**n, n)),
                        rng.uniform(-1, 1, centre.shape[:-1] + (samples, n))], axis=-2)
    return centre[..., None, :] + u * radius[..., None, :], u * radius[..., None, :]


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 4), depth=st.integers(1, 5), width=st.sampled_from([1, 3, 6]),
       kind=st.sampled_from(["relu", "negative", "small", "large", "mixed"]), side=st.sampled_from([0.05, 0.5, 2.0]),
       intermediate=st.sampled_from(["crown", "forward"]))
def test_lines_bracket_the_network(seed, n, depth, width, kind, side, intermediate):
    """a_lo·t + b_lo − m <= Φ(c + t) <= a_up·t + b_up + m at the corners and at dense samples of each box."""
    rng = np.random.default_rng(seed)
    S, P = 2, 3
    net = random_net(rng, n, depth, width, kind, stack=S)
    centre = rng.uniform(-1, 1, (S, P, n))
    radius = side * rng.uniform(0.1, 1.0, (S, P, n))
    lb = jax.tree_util.tree_map(np.asarray, linear_bounds(net, centre, radius, intermediate))
    x, t = box_points(rng, centre, radius, 300)
    for s in range(S):
        phi = numpy_phi(net, x[s], index=s)
        scale = 1e-12 * (1 + np.abs(phi))  # numpy's own rounding of Φ
        lower = np.einsum("pkn,pn->pk", t[s], lb.a_lo[s]) + lb.b_lo[s][:, None] - lb.margin[s][:, None]
        upper = np.einsum("pkn,pn->pk", t[s], lb.a_up[s]) + lb.b_up[s][:, None] + lb.margin[s][:, None]
        assert np.all(lower <= phi + scale) and np.all(phi <= upper + scale)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.just(2), kind=st.sampled_from(["relu", "negative", "large", "mixed"]),
       intermediate=st.sampled_from(["crown", "forward"]))
def test_preactivation_bounds_hold(seed, n, kind, intermediate):
    """Every hidden pre-activation at the corners and dense samples of each box lies in its interval
    (depth 5, boxes wide enough that most neurons cross)."""
    rng = np.random.default_rng(seed)
    net = random_net(rng, n, 5, 5, kind)
    centre, radius = rng.uniform(-1, 1, (1, 4, n)), np.full((1, 4, n), 0.5)
    bounds = [np.asarray(v) for pair in preactivation_bounds(net, centre, radius, intermediate) for v in pair]
    h, _ = box_points(rng, centre, radius, 400)
    for l, (w, b) in enumerate(net.layers[:-1]):
        h = h @ np.asarray(w) + np.asarray(b)
        scale = 1e-12 * (1 + np.abs(h))
        assert np.all(bounds[2 * l][..., None, :] <= h + scale) and np.all(h <= bounds[2 * l + 1][..., None, :] + scale)
        h = np.maximum(h, 0) + np.asarray(net.slopes[l]) * np.minimum(h, 0)


@pytest.mark.parametrize("intermediate", ["crown", "forward"])
@pytest.mark.parametrize("kind", ["relu", "negative", "large"])
def test_margin_covers_rounding_exactly(kind, intermediate, rng):
    """Exact rationals: the lines bracket Φ at every corner, also where the bound is attained (chords touch
    σ at the ends of the interval; where Φ is affine on the box the lines equal Φ), and the margin is tiny."""
    for trial in range(4):
        net = random_net(rng, 2, 3, 3, kind)
        centre = rng.uniform(-1, 1, (1, 1, 2)) / 3
        radius = (1e-9 if trial % 2 else 0.3) * rng.uniform(0.5, 1.0, (1, 1, 2))
        lb = linear_bounds(net, centre, radius, intermediate)
        a_lo, a_up = (np.asarray(v)[0, 0] for v in (lb.a_lo, lb.a_up))
        b_lo, b_up, m = (Fraction(float(v[0, 0])) for v in (lb.b_lo, lb.b_up, lb.margin))
        phi_c = abs(float(numpy_phi(net, centre[0, 0])))
        assert m <= 1e-13 * (1 + phi_c + np.abs(a_up).sum())
        for u in corners(2):
            t = [Fraction(float(s)) * Fraction(float(r)) for s, r in zip(u, radius[0, 0])]
            phi = exact_phi(net, [Fraction(float(c)) + ti for c, ti in zip(centre[0, 0], t)])
            low = sum((Fraction(float(a)) * ti for a, ti in zip(a_lo, t)), b_lo - m)
            high = sum((Fraction(float(a)) * ti for a, ti in zip(a_up, t)), b_up + m)
            assert low <= phi <= high


def test_exact_relu_chord_at_the_ends():
    """Φ(x) = σ(x/3 − 1/7) with a crossing neuron: the chord meets σ at both ends, so the upper line is tight
    at the corners up to the margin; checked in exact rationals."""
    net = ma.MLP(((np.array([[1 / 3]]), np.array([-1 / 7])), (np.array([[1.0]]), np.zeros(1))), (np.zeros(1),))
    for c, r in [(0.1, 0.9), (0.7, 0.45), (1 / 3, 1 / 5)]:
        lb = linear_bounds(net, np.full((1, 1, 1), c), np.full((1, 1, 1), r))
        for s in (-1, 1):
            t = s * Fraction(r)
            phi = exact_phi(net, [Fraction(c) + t])
            a, b, m = (Fraction(float(v)) for v in (lb.a_up[0, 0, 0], lb.b_up[0, 0], lb.margin[0, 0]))
            high = a * t + b + m
            assert phi <= high <= phi + Fraction(1, 10**13)


@pytest.mark.parametrize("a, l, u", [(0.0, -1.0, 2.0), (0.0, -2.0, 1.0), (0.25, -3.0, 1.0), (-1.0, -1.0, 3.0),
                                     (2.0, -1.0, 3.0), (2.0, -3.0, 1.0), (1.0, -1.0, 1.0)])
def test_single_neuron_lines_closed_form(a, l, u):
    """σ_a on [l, u]: a <= 1: upper = chord, lower = λz with λ = 1 if u >= −l else a; a > 1: roles swap."""
    net = ma.MLP(((np.ones((1, 1)), np.zeros(1)), (np.ones((1, 1)), np.zeros(1))), (np.full(1, a),), "prelu")
    c, r = (l + u) / 2, (u - l) / 2
    lb = linear_bounds(net, np.full((1, 1, 1), c), np.full((1, 1, 1), r))
    chord = ((u - a * l) / (u - l), (u - a * l) / (u - l) * (c - l) + a * l)  # (slope, value at c)
    lam = 1.0 if u >= -l else a
    up, lo = (chord, (lam, lam * c)) if a <= 1 else ((lam, lam * c), chord)
    got_up = (float(lb.a_up[0, 0, 0]), float(lb.b_up[0, 0]))
    got_lo = (float(lb.a_lo[0, 0, 0]), float(lb.b_lo[0, 0]))
    np.testing.assert_allclose(got_up, up, atol=1e-12)
    np.testing.assert_allclose(got_lo, lo, atol=1e-12)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 4), depth=st.integers(1, 5),
       kind=st.sampled_from(["relu", "negative", "small", "large"]))
def test_exact_where_the_network_is_affine(seed, n, depth, kind):
    """On a box where no pre-activation changes sign both lines are Φ: a = ∇Φ(c), b = Φ(c)."""
    rng = np.random.default_rng(seed)
    net = random_net(rng, n, depth, 4, kind)
    centre = rng.uniform(-1, 1, (1, 1, n))
    radius = np.full((1, 1, n), 1e-9)
    h, low = centre[0, 0], np.inf  # smallest |pre-activation| at c
    for l, (w, b) in enumerate(net.layers[:-1]):
        h = h @ np.asarray(w) + np.asarray(b)
        low = min(low, np.abs(h).min())
        h = np.maximum(h, 0) + np.asarray(net.slopes[l]) * np.minimum(h, 0)
    if low < 1e-4:  # a neuron may cross: skip (the Lipschitz constants here are far below 1e5)
        return
    lb = linear_bounds(net, centre, radius)
    grad = np.asarray(jax.grad(lambda x: net(x)[0])(jnp.asarray(centre[0, 0])))
    phi = numpy_phi(net, centre[0, 0])
    for a, b in ((lb.a_lo, lb.b_lo), (lb.a_up, lb.b_up)):
        np.testing.assert_allclose(np.asarray(a)[0, 0], grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(float(b[0, 0]), phi, rtol=1e-10, atol=1e-12)


def kernel_bound(target, net, centre, radius, fc=None, grad=None):
    """linear_kernel on boxes (N, n) of one expert (a stack of one), one box per slot."""
    N = len(centre)
    experts = jax.tree_util.tree_map(lambda v: np.asarray(v)[None], net)
    return np.asarray(linear_kernel(target, experts, np.zeros(N, np.int64), np.arange(N)[:, None], np.arange(N),
                                    jnp.asarray(centre), jnp.asarray(radius), fc, grad)[0])


def sampled_error(rng, f, net, centre, radius, samples=2000):
    x, _ = box_points(rng, centre, radius, samples)
    return np.max(np.abs(np.asarray(f.fn(jnp.asarray(x))) - numpy_phi(net, x)), axis=-1)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31), depth=st.integers(1, 4), kind=st.sampled_from(["relu", "mixed"]),
       side=st.sampled_from([0.02, 0.2]))
def test_formula_target_bound_is_sound(seed, depth, kind, side):
    """For f = sin(3 x1)·x2 the kernel's bound (range and mean-value forms) is >= the sampled max of |f − Φ|,
    and the mean-value form alone too."""
    rng = np.random.default_rng(seed)
    f = FORMULA
    net = random_net(rng, 2, depth, 5, kind)
    centre = rng.uniform(side, 1 - side, (6, 2))
    radius = np.full((6, 2), side / 2)
    truth = sampled_error(rng, f, net, centre, radius)
    assert np.all(kernel_bound(f, net, centre, radius) >= truth)
    lb = linear_bounds(net, centre[:, None], radius[:, None])
    lines = [np.asarray(v)[:, 0] for v in lb[:4]]
    d_lo, d_hi = f.enclose_gradient(centre - radius, centre + radius)
    mean_value = linear_error_bound(f.enclose(centre, centre), (d_lo, d_hi), *lines, radius,
                                    margin=np.asarray(lb.margin)[:, 0])
    assert np.all(np.asarray(mean_value) >= truth)


FORMULA = ma.targets.from_sympy("sin(3*x1)*x2", n=2)
WAVE = ma.HolderTarget(lambda x: jnp.sin(3 * x[..., 0]) + x[..., 1] / 2, n=2, alpha=1.0, constant=3.5,
                       name="wave", smoothness=2.0, derivative_constant=9.0)


@pytest.mark.parametrize("target", [ma.targets.get("cone", n=2), WAVE], ids=["holder", "first_order"])
def test_declared_target_bound_is_sound(target, rng):
    """Hölder (range form with f(c) ± Cρ^α) and first-order (∇f(c), T(ρ)) bounds >= the sampled max."""
    for kind in ("relu", "negative", "large"):
        net = random_net(rng, 2, 3, 5, kind)
        centre = rng.uniform(0.1, 0.9, (8, 2))
        radius = rng.uniform(0.005, 0.1, (8, 2))
        fc = target.fn(jnp.asarray(centre))
        grad = None if target.smoothness is None else jax.grad(lambda x: jnp.sum(target.fn(x)))(jnp.asarray(centre))
        bound = kernel_bound(target, net, centre, radius, fc, grad)
        assert np.all(bound >= sampled_error(rng, target, net, centre, radius))


def test_kernel_slots_route_each_box_to_its_expert(rng):
    """Slots of two boxes each, boxes out of order: the kernel's bound of each box equals the range form
    of that box's own expert (docs/theory.md §5)."""
    target = ma.targets.get("cone", n=2)
    experts = random_net(rng, 2, 3, 4, "mixed", stack=2)
    centre, radius = rng.uniform(0.2, 0.8, (4, 2)), np.full((4, 2), 0.05)
    cell = np.array([1, 0, 1, 0])
    fc = target.fn(jnp.asarray(centre))
    got = np.asarray(linear_kernel(target, experts, np.array([0, 1]), np.array([[1, 3], [0, 2]]),
                                   np.array([2, 0, 3, 1]), jnp.asarray(centre), jnp.asarray(radius), fc, None)[0])
    for i in range(4):
        one = jax.tree_util.tree_map(lambda v: np.asarray(v)[cell[i]], experts)
        lb = linear_bounds(one, centre[i][None, None], radius[i][None, None])
        omega = 0.05 * target.constant
        want = range_error_bound((fc[i] - omega, fc[i] + omega), *[np.asarray(v)[0, 0] for v in lb[:4]], radius[i],
                                 margin=float(lb.margin[0, 0]) + ma.assumptions.TARGET_RTOL * omega)
        np.testing.assert_allclose(got[i], float(want), rtol=1e-12)


def test_first_order_form_closed_form():
    """Φ = the tangent plane of the wave at c plus 0.01: the first-order bound is 0.01 + T(ρ), T(ρ) = D n ρ²/2."""
    c = np.array([0.3, 0.6])
    fc = float(WAVE.fn(jnp.asarray(c)))
    grad = np.array([3 * np.cos(0.9), 0.5])
    net = ma.MLP(((grad[:, None], np.array([fc + 0.01 - grad @ c])),), ())
    for rho in (1e-3, 1e-2):
        radius = np.full((1, 2), rho)
        bound = kernel_bound(WAVE, net, c[None], radius, jnp.array([fc]), jnp.asarray(grad[None]))[0]
        assert 0.01 <= bound <= 0.01 + 9.0 * rho**2 + 1e-12


def test_inputs_are_checked():
    net = random_net(np.random.default_rng(0), 2, 2, 3, "relu")
    good = np.zeros((1, 1, 2))
    with pytest.raises(ValueError, match="intermediate"):
        linear_bounds(net, good, good, "ibp")
    with pytest.raises(TypeError, match="nets"):
        linear_bounds("net", good, good)
    with pytest.raises(ValueError, match="centre"):
        linear_bounds(net, np.zeros((1, 2)), good)
    with pytest.raises(ValueError, match="radius"):
        linear_bounds(net, good, -np.ones((1, 1, 2)))
    with pytest.raises(ValueError, match="rows"):
        linear_bounds(random_net(np.random.default_rng(0), 2, 2, 3, "relu", stack=3), good, good)
    wide = ma.MLP(((np.ones((2, 2)), np.zeros(2)),), ())
    with pytest.raises(ValueError, match="scalar output"):
        linear_bounds(wide, good, good)
    with pytest.raises(ValueError, match="f_c"):
        linear_error_bound((0.0, 1.0, 2.0), 0.0, good[0], 0.0, good[0], 0.0, good[0])


def test_layers_of_one_shape_scanned_give_the_unrolled_bounds(monkeypatch):
    """With forward intermediate bounds, hidden layers whose next layers share one square shape run as one
    lax.scan each way (linear._square_runs); the same operations unrolled layer by layer must give
    bit-identical lines, margins and intervals."""
    from moe_approx.certify import linear

    rng = np.random.default_rng(3)
    nets = random_net(rng, 2, 5, 5, "mixed", stack=3)  # widths 2, 5, 5, 5, 5, 1: layers 1-3 are 5 × 5
    one = random_net(rng, 2, 5, 5, "mixed")
    assert linear._square_runs(one.layers, one.slopes) == [(0, 3)]
    centre, radius = rng.random((3, 6, 2)), 0.3 * rng.random((3, 6, 2))

    def bounds():  # a new function, so a new trace: the runs are read when it traces
        return jax.jit(lambda *args: linear._linear_bounds.__wrapped__(*args, "forward"))(nets, centre, radius)

    scanned = bounds()
    monkeypatch.setattr(linear, "_square_runs", lambda layers, slopes: [])
    unrolled = bounds()
    for a, b in zip(jax.tree_util.tree_leaves(scanned), jax.tree_util.tree_leaves(unrolled)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
