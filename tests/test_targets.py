"""Hölder targets: each claimed (α, C) and derivative bound checked on sampled and adversarial pairs.

Reference values (formulas, constants, witnesses) are written down here from the mathematics,
independently of moe_approx.targets.
"""

import math
from fractions import Fraction
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moe_approx import HolderTarget, targets

NS = (1, 2, 3, 5)
SMOOTH = ("affine", "gaussian_bump", "oscillatory", "sine_product")
REQUIRED = ("affine", "cone", "cusp", "gaussian_bump", "oscillatory", "ridge", "sine_product", "weierstrass")
OMEGA = 20 * math.pi
GOLDEN = (math.sqrt(5) - 1) / 2


@lru_cache(maxsize=None)
def target(name, n):
    return targets.get(name, n=n)


def signs(n):
    return np.array([1.0 if i % 2 == 0 else -1.0 for i in range(n)])


def harmonic(n):
    return float(sum(Fraction(1, i) for i in range(1, n + 1)))


# Independent numpy formulas and constants, from the mathematics in the docstrings.
def reference_fn(name, x):
    n = x.shape[-1]
    i = np.arange(1, n + 1)
    if name == "cone":
        return 1 - np.abs(x - 0.5).max(-1)
    if name == "linf_distance":
        return np.abs(x - GOLDEN).max(-1)
    if name == "l2_distance":
        return np.linalg.norm(x - 0.5, axis=-1)
    if name == "affine":
        return 0.25 + x @ (signs(n) * i / n)
    if name == "cusp":
        return np.abs(x[..., 0] - 1 / 3) ** 0.5
    if name == "kink":
        return np.abs(x[..., 0] - 1 / 3)
    if name == "ridge":
        return np.abs((x - 1 / 3) @ (signs(n) / i)) ** 0.75
    if name == "weierstrass":
        return sum(0.25**j * np.cos(8**j * np.pi * x) for j in range(6)).mean(-1)
    if name == "sine_product":
        return np.prod(np.sin(np.pi * x), axis=-1)
    if name == "oscillatory":
        return np.sin(OMEGA * x).mean(-1)
    if name == "gaussian_bump":
        return np.exp(-((x - 0.5) ** 2).sum(-1) * 8)
    raise KeyError(name)


def weierstrass_bound_on_grid():
    """sup over a dense δ grid of δ^(-2/3) Σ_j 4^-j min(2, π 8^j δ) (a lower estimate of C)."""
    delta = np.logspace(-10, 0, 400_001)
    terms = sum(0.25**j * np.minimum(2, np.pi * 8.0**j * delta) for j in range(6))
    return (terms / delta ** (2 / 3)).max()


def expected_constant(name, n):
    return {
        "cone": 1.0,
        "linf_distance": 1.0,
        "l2_distance": math.sqrt(n),
        "affine": (n + 1) / 2,
        "cusp": 1.0,
        "kink": 1.0,
        "ridge": harmonic(n) ** 0.75,
        "sine_product": math.pi * math.sqrt(n),
        "oscillatory": OMEGA,
        "gaussian_bump": 4 * math.sqrt(n) * math.exp(-0.5),
    }[name]


# Points where each target has a kink, cusp or its steepest slope.
def anchors(name, n):
    base = [np.zeros(n), np.ones(n), np.full(n, 0.5)]
    special = {
        "cone": [np.full(n, 0.5)],
        "linf_distance": [np.full(n, GOLDEN)],
        "l2_distance": [np.full(n, 0.5)],
        "cusp": [np.r_[1 / 3, np.full(n - 1, 0.7)]],
        "kink": [np.r_[1 / 3, np.full(n - 1, 0.7)]],
        "ridge": [np.full(n, 1 / 3)],
        "weierstrass": [np.full(n, 8.0**-m) for m in range(6)],
        "gaussian_bump": [0.5 + 0.25 / math.sqrt(n) * np.ones(n)],
        "sine_product": [np.full(n, math.acos(1 / math.sqrt(n)) / math.pi)],
    }.get(name, [])
    return base + special


def pairs(name, n, seed=0):
    """Random, close, axis-aligned, far and anchor pairs in [0,1]^n."""
    rng = np.random.default_rng(seed)
    x = rng.random((3000, n))
    close = np.clip(x + 10.0 ** rng.uniform(-10, -1, (3000, 1)) * rng.uniform(-1, 1, (3000, n)), 0, 1)
    along_axis = x.copy()
    along_axis[np.arange(3000), rng.integers(0, n, 3000)] = rng.random(3000)
    corners = rng.integers(0, 2, (500, n)).astype(float)
    chunks = [
        (x, rng.random((3000, n))),  # random pairs
        (x, close),  # ∞-distance from 1e-10 to 1e-1
        (x, along_axis),  # one coordinate changed
        (corners, 1 - corners),  # opposite corners: distance 1
        (x[:500], 1 - x[:500]),  # reflected through the centre
    ]
    deltas = np.logspace(-10, 0, 41)[:, None]
    directions = [np.eye(n)[i] * s for i in range(n) for s in (1, -1)]
    directions += [np.ones(n), -np.ones(n), signs(n), -signs(n), rng.uniform(-1, 1, n)]
    for a in anchors(name, n):  # both sides of every kink, cusp and steepest point
        for d in directions:
            for jitter in (0.0, 1e-9, -1e-7):
                start = np.clip(a + jitter, 0, 1)
                chunks.append((np.broadcast_to(start, (len(deltas), n)), np.clip(start + deltas * d, 0, 1)))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def assert_holder(values_x, values_y, dist, alpha, constant):
    gap = np.abs(values_x - values_y)
    allowed = constant * dist**alpha + 1e-12 * (1 + np.maximum(np.abs(values_x), np.abs(values_y)))
    worst = np.argmax(gap - allowed)
    assert np.all(gap <= allowed), f"violation at pair {worst}: {gap[worst]} > {allowed[worst]}"


# --- library ----------------------------------------------------------------------------------


def test_names_cover_the_required_targets():
    assert targets.names() == sorted(targets.names())
    assert len(targets.names()) >= 8
    assert set(REQUIRED) <= set(targets.names())


@pytest.mark.parametrize("name", targets.names())
@pytest.mark.parametrize("n", NS)
def test_metadata_and_formula(name, n):
    f = target(name, n)
    assert f.name == name and f.n == n
    x = np.random.default_rng(1).random((200, n))
    np.testing.assert_allclose(np.asarray(f(x)), reference_fn(name, x), rtol=1e-12, atol=1e-12)
    assert (f.smoothness is not None) == (name in SMOOTH)


@pytest.mark.parametrize("name", [name for name in targets.names() if name != "weierstrass"])
@pytest.mark.parametrize("n", NS)
def test_constant_matches_its_proof(name, n):
    assert target(name, n).constant == pytest.approx(expected_constant(name, n), rel=1e-14)


def test_exponents():
    alphas = {name: target(name, 2).alpha for name in targets.names()}
    assert alphas["cusp"] == 0.5 and alphas["ridge"] == 0.75 and alphas["weierstrass"] == pytest.approx(2 / 3)
    assert all(alphas[name] == 1.0 for name in alphas if name not in ("cusp", "ridge", "weierstrass"))


# --- the Hölder bound on pairs ----------------------------------------------------------------


@pytest.mark.parametrize("name", targets.names())
@pytest.mark.parametrize("n", NS)
def test_holder_bound_on_pairs(name, n):
    f = target(name, n)
    x, y = pairs(name, n)
    fx, fy = reference_fn(name, x), reference_fn(name, y)
    np.testing.assert_allclose(np.asarray(f(x)), fx, rtol=1e-12, atol=1e-13)
    assert_holder(fx, fy, np.abs(x - y).max(-1), f.alpha, f.constant)
    assert_holder(np.asarray(f(x)), np.asarray(f(y)), np.abs(x - y).max(-1), f.alpha, f.constant)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(targets.names()),
    n=st.sampled_from(NS),
    data=st.data(),
)
def test_holder_bound_property(name, n, data):
    unit = st.floats(0.0, 1.0, allow_nan=False)
    x = np.array(data.draw(st.lists(unit, min_size=n, max_size=n)))
    y = np.array(data.draw(st.lists(unit, min_size=n, max_size=n)))
    f = target(name, n)
    fx, fy = float(f(x)), float(f(y))
    assert abs(fx - fy) <= f.constant * np.abs(x - y).max() ** f.alpha + 1e-12 * (1 + max(abs(fx), abs(fy)))


# --- tightness ---------------------------------------------------------------------------------


def witness(name, n):
    """A pair (x, y) whose ratio |f(x) − f(y)| / ‖x − y‖_∞^α is (nearly) the constant."""
    one, t = np.ones(n), 1e-6
    return {
        "cone": (0.5 * one, 0.5 * one + 0.25 * np.eye(n)[0]),
        "linf_distance": (GOLDEN * one, GOLDEN * one - 0.5 * np.eye(n)[0]),
        "l2_distance": (0.5 * one, 0.5 * one + 0.3 * one),
        "affine": (0.5 * one, 0.5 * one + 0.2 * signs(n)),
        "cusp": (one / 3, one / 3 + 0.4 * np.eye(n)[0]),
        "kink": (one / 3, one / 3 + 0.4 * np.eye(n)[0]),
        "ridge": (one / 3, one / 3 + 0.1 * signs(n)),
        "oscillatory": (np.zeros(n), t * one),
        "gaussian_bump": (0.5 + 0.25 / math.sqrt(n) * one - t * one, 0.5 + 0.25 / math.sqrt(n) * one + t * one),
    }[name]


@pytest.mark.parametrize("name", ["cone", "linf_distance", "l2_distance", "affine", "cusp", "kink", "ridge", "oscillatory", "gaussian_bump"])
@pytest.mark.parametrize("n", NS)
def test_constant_is_attained(name, n):
    f = target(name, n)
    x, y = witness(name, n)
    ratio = abs(float(f(x)) - float(f(y))) / np.abs(x - y).max() ** f.alpha
    assert ratio == pytest.approx(f.constant, rel=1e-8)


@pytest.mark.parametrize("n", NS)
def test_sine_product_constant_within_sqrt_e(n):
    f = target("sine_product", n)
    centre = np.full(n, math.acos(1 / math.sqrt(n)) / math.pi)  # cos²(πx_i) = 1/n: the equal-angle maximum
    x, y = np.clip(centre - 1e-6, 0, 1), centre + 1e-6
    ratio = abs(float(f(x)) - float(f(y))) / np.abs(x - y).max()
    assert ratio == pytest.approx(math.pi * math.sqrt(n) * (1 - 1 / n) ** ((n - 1) / 2), rel=1e-9)
    assert ratio <= f.constant <= math.exp(0.5) * ratio
    if n == 1:
        assert f.constant == pytest.approx(ratio, rel=1e-9)


def test_weierstrass_constant():
    f = target("weierstrass", 1)
    grid = weierstrass_bound_on_grid()
    assert grid <= f.constant * (1 + 1e-12)
    assert grid >= f.constant * (1 - 1e-5)  # the grid sup approaches the exact sup from below
    alpha = 2 / 3
    closed_form = math.pi * 8 ** (1 - alpha) / (8 ** (1 - alpha) - 1) + 2 / (1 - 8**-alpha)
    assert f.constant <= closed_form
    for m in range(6):  # |W(0) − W(8^-m)| ≥ 2·4^-m = 2 (8^-m)^α
        delta = 8.0**-m
        ratio = abs(float(f(np.zeros(1))) - float(f(np.full(1, delta)))) / delta**alpha
        assert 2 - 1e-9 <= ratio <= f.constant


def test_weierstrass_constant_validation():
    # one term: min(2, πδ)/√δ rises as π√δ up to δ = 2/π, then falls as 2/√δ: sup √(2π)
    assert targets.weierstrass_constant(0.5, 4.0, 1, 0.5) == pytest.approx(math.sqrt(2 * math.pi), rel=1e-14)
    for bad in [dict(a=0.0), dict(b=1.0), dict(terms=0), dict(alpha=1.5)]:
        kwargs = dict(a=0.25, b=8.0, terms=6, alpha=2 / 3) | bad
        with pytest.raises(ValueError):
            targets.weierstrass_constant(**kwargs)


# --- derivatives of smooth targets -----------------------------------------------------------


def derivative_tensor(f, k):
    g = f.fn
    for _ in range(k):
        g = jax.jacfwd(g)
    return jax.jit(jax.vmap(g))


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("n", NS)
def test_lipschitz_constant_bounds_gradient(name, n):
    f = target(name, n)
    x = np.concatenate([np.random.default_rng(2).random((4000, n)), np.stack(anchors(name, n))])
    grad_l1 = np.abs(np.asarray(derivative_tensor(f, 1)(x))).sum(-1)
    assert grad_l1.max() <= f.constant * (1 + 1e-12)


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("n", NS)
def test_derivative_holder_bound(name, n):
    f = target(name, n)
    k, beta = f.derivative_order, f.derivative_exponent
    x, y = pairs(name, n, seed=3)
    x, y = x[::4], y[::4]
    dx, dy = (np.asarray(derivative_tensor(f, k)(p)).reshape(len(p), -1) for p in (x, y))
    gap = np.abs(dx - dy).max(-1)
    scale = 1 + np.abs(dx).max()  # rounding in ∂^γ f is relative to its size, not its local value
    allowed = f.derivative_constant * np.abs(x - y).max(-1) ** beta + 1e-12 * scale
    assert np.all(gap <= allowed)


@pytest.mark.parametrize(
    "name, n, x",
    [("oscillatory", n, np.zeros(n)) for n in NS] + [("gaussian_bump", 1, np.full(1, 0.5))],
)
def test_derivative_constant_is_attained(name, n, x):
    """ω³/n at x = 0 for oscillatory (∂₁³f = −ω³/n); 1/σ² = 16 at the centre for the 1-d bump (f'')."""
    f = target(name, n)
    derivative = derivative_tensor(f, f.derivative_order)
    t = 1e-6
    y = x + t * np.eye(n)[0]
    ratio = np.abs(np.asarray(derivative(x[None])) - np.asarray(derivative(y[None]))).max() / t
    assert ratio == pytest.approx(f.derivative_constant, rel=1e-8)
    assert ratio == pytest.approx({"oscillatory": OMEGA**3 / n, "gaussian_bump": 16.0}[name], rel=1e-8)


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("n", NS)
def test_taylor_remainder_bound(name, n):
    """|f(x) − T_k(x)| ≤ D n^k r^s Γ(β+1)/Γ(s+1) with T_k built from JAX derivatives at x0."""
    f = target(name, n)
    k = f.derivative_order
    rng = np.random.default_rng(4)
    x0 = rng.random((500, n))
    h = rng.uniform(-1, 1, (500, n)) * 10.0 ** rng.uniform(-3, 0, (500, 1))
    x = np.clip(x0 + h, 0, 1)
    h = x - x0
    taylor = np.asarray(f(x0))
    term = np.asarray(derivative_tensor(f, 1)(x0))
    taylor = taylor + np.einsum("pi,pi->p", term, h)
    if k == 2:
        hess = np.asarray(derivative_tensor(f, 2)(x0))
        taylor = taylor + 0.5 * np.einsum("pij,pi,pj->p", hess, h, h)
    assert k in (1, 2)
    r = np.abs(h).max(-1)
    gamma_ratio = math.gamma(f.derivative_exponent + 1) / math.gamma(f.smoothness + 1)
    bound = f.derivative_constant * n**k * r**f.smoothness * gamma_ratio
    np.testing.assert_allclose(f.taylor_remainder_bound(r), bound, rtol=1e-14)
    values = np.asarray(f(x))
    assert np.all(np.abs(values - taylor) <= bound + 1e-12 * (1 + np.abs(values)))


def test_smoothness_convention():
    f = HolderTarget(lambda x: x[..., 0], 1, 1.0, 1.0, smoothness=2.5, derivative_constant=1.0)
    assert (f.derivative_order, f.derivative_exponent) == (2, 0.5)
    g = HolderTarget(lambda x: x[..., 0], 1, 1.0, 1.0, smoothness=2, derivative_constant=1.0)
    assert (g.derivative_order, g.derivative_exponent) == (1, 1.0)
    assert target("cone", 2).derivative_order is None
    with pytest.raises(ValueError, match="declares no smoothness"):
        target("cone", 2).taylor_remainder_bound(0.1)


# --- JAX ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", targets.names())
def test_jit_and_float64(name):
    f = target(name, 3)
    x = np.random.default_rng(5).random((7, 3))
    out = f(x)
    assert out.dtype == jnp.float64 and out.shape == (7,)
    np.testing.assert_allclose(np.asarray(jax.jit(f.fn)(jnp.asarray(x))), np.asarray(out), rtol=1e-14)
    assert f(np.zeros((2, 4, 3), dtype=np.int32)).dtype == jnp.float64
    assert f(np.zeros(3)).shape == ()


@pytest.mark.parametrize("name", SMOOTH)
def test_grad_of_smooth_targets(name):
    f = target(name, 3)
    x = jnp.asarray(np.random.default_rng(6).random(3))
    g = jax.grad(f)(x)
    step = 1e-6
    finite = [(float(f(x + step * e)) - float(f(x - step * e))) / (2 * step) for e in np.eye(3)]
    np.testing.assert_allclose(np.asarray(g), finite, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(f.fn))(x)), np.asarray(g), rtol=1e-14)


# --- validation ---------------------------------------------------------------------------------


def test_call_rejects_wrong_shapes():
    f = target("cone", 2)
    for bad in (np.zeros(3), np.zeros((4, 3)), np.float64(0.5), np.zeros((2, 1))):
        with pytest.raises(ValueError, match="shape"):
            f(bad)
    with pytest.raises(ValueError, match="fn must map"):  # returns (..., n) instead of (...): refused when traced
        HolderTarget(lambda x: x, 2, 1.0, 1.0)
    g = HolderTarget(lambda x: x[..., 0] if x.shape[0] in (4, 2) else x, 2, 1.0, 1.0)  # right on the traced batches
    with pytest.raises(ValueError, match="fn must map"):
        g(np.zeros((5, 2)))


@pytest.mark.parametrize("n", [0, -1, 1.5, 2.0, True, "2", None])
def test_bad_dimension(n):
    with pytest.raises(ValueError, match="n must be"):
        HolderTarget(lambda x: x[..., 0], n, 1.0, 1.0)
    with pytest.raises(ValueError, match="n must be"):
        targets.get("cone", n=n)


def test_numpy_integer_dimension():
    assert targets.get("cone", n=np.int64(3)).n == 3


@pytest.mark.parametrize("alpha", [0, 0.0, -0.5, 1.0 + 1e-12, 2, math.nan, math.inf])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        HolderTarget(lambda x: x[..., 0], 1, alpha, 1.0)


@pytest.mark.parametrize("alpha", [True, "0.5", None, 0.5j])
def test_alpha_must_be_real(alpha):
    with pytest.raises(TypeError, match="alpha"):
        HolderTarget(lambda x: x[..., 0], 1, alpha, 1.0)


@pytest.mark.parametrize("constant", [-1.0, -1e-300, math.inf, math.nan])
def test_bad_constant(constant):
    with pytest.raises(ValueError, match="constant"):
        HolderTarget(lambda x: x[..., 0], 1, 1.0, constant)


def test_bad_fn_name_and_smoothness():
    with pytest.raises(TypeError, match="fn must be callable"):
        HolderTarget("cone", 1, 1.0, 1.0)
    with pytest.raises(TypeError, match="name"):
        HolderTarget(lambda x: x[..., 0], 1, 1.0, 1.0, name=3)
    fn = lambda x: x[..., 0]  # noqa: E731
    with pytest.raises(ValueError, match="together"):
        HolderTarget(fn, 1, 1.0, 1.0, smoothness=2.0)
    with pytest.raises(ValueError, match="together"):
        HolderTarget(fn, 1, 1.0, 1.0, derivative_constant=1.0)
    for s in (1.0, 0.5, math.inf):
        with pytest.raises(ValueError, match="smoothness"):
            HolderTarget(fn, 1, 1.0, 1.0, smoothness=s, derivative_constant=1.0)
    with pytest.raises(ValueError, match="derivative_constant"):
        HolderTarget(fn, 1, 1.0, 1.0, smoothness=2.0, derivative_constant=-1.0)


def test_modulus():
    f = target("cusp", 1)
    np.testing.assert_allclose(f.modulus(np.array([0.0, 0.25, 1.0])), [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="radius"):
        f.modulus(-0.1)


@pytest.mark.parametrize("name", ["", "Cone", "nope", None, 3])
def test_unknown_name(name):
    with pytest.raises(ValueError, match="accepted"):
        targets.get(name, n=2)
