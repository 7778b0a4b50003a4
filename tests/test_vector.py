"""Vector targets f: [0,1]^n -> R^m: componentwise experts composed in parallel, one output taken back out
exactly, and the certified bracket of max_j sup|f_j − Φ_j| (ℓ∞ over components) against dense sampling."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx.outputs import output_component
from moe_approx.targets import VectorTarget

from nets import dense_grid, numpy_moe
from test_calculus import numpy_forward, random_net

CONE = ma.targets.get("cone", n=2)
DOUBLE_CONE = ma.HolderTarget(lambda x: 2 * CONE.fn(x), 2, 1.0, 2.0, name="2 cone")
LEVEL = ma.HolderTarget(lambda x: 0.0 * x[..., 0] + 0.3, 2, 1.0, 0.0, name="level")  # constant: C = 0


def same_weights(a, b):
    """The stacks a and b hold equal arrays (a shared array counts as its broadcast)."""
    pairs = [(x, y) for (w, c), (v, d) in zip(a.layers, b.layers) for x, y in ((w, v), (c, d))]
    pairs += list(zip(a.slopes, b.slopes))
    return a.widths == b.widths and all(np.array_equal(*np.broadcast_arrays(np.asarray(x), np.asarray(y)))
                                        for x, y in pairs)


# --- targets -----------------------------------------------------------------------------------
def test_vector_target_evaluates_its_components():
    f = VectorTarget([CONE, ma.targets.get("kink", n=2)])
    x = np.random.default_rng(0).random((7, 3, 2))
    y = np.asarray(f(x))
    assert (f.n, f.m, f.name) == (2, 2, "(cone, kink)") and y.shape == (7, 3, 2)
    np.testing.assert_array_equal(y[..., 1], np.asarray(ma.targets.get("kink", n=2)(x)))
    np.testing.assert_array_equal(np.asarray(f.fn(jnp.asarray(x))), y)


def test_from_sympy_with_a_list_gives_formula_components():
    f = ma.targets.from_sympy(["sin(x1)", "x1*x2"], 2, name="pair")
    assert isinstance(f, VectorTarget) and (f.m, f.name) == (2, "pair")
    assert [str(c.expr) for c in f.components] == ["sin(x1)", "x1*x2"]
    x = np.array([[0.5, 0.25]])
    np.testing.assert_allclose(np.asarray(f(x))[0], [np.sin(0.5), 0.125], rtol=1e-15)
    assert ma.formula.from_sympy is ma.targets.from_sympy


@pytest.mark.parametrize("components, error, match", [
    ([], ValueError, "at least one"),
    ([CONE, ma.targets.get("cone", n=3)], ValueError, r"same n, got n = \[2, 3\]"),
    ([CONE, "cone"], TypeError, r"components\[1\]"),
    ("cone", TypeError, "sequence of targets"),
    ([VectorTarget([CONE])], TypeError, "itself a VectorTarget"),
])
def test_bad_components_are_refused(components, error, match):
    with pytest.raises(error, match=match):
        VectorTarget(components)
    if components == []:
        with pytest.raises(ValueError, match="at least one"):
            ma.targets.from_sympy([], 2)


# --- one output of a network ------------------------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), m=st.integers(1, 3), act=st.sampled_from(["relu", "prelu"]))
def test_output_component_is_exact(seed, m, act):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 2))
    dense = random_net(rng, (2, 5, 4, m), act)  # not block-diagonal: every hidden neuron is kept
    for j in range(m):
        part = output_component(dense, j)
        assert part.widths == (2, 5, 4, 1)
        np.testing.assert_allclose(numpy_forward(part, x)[:, 0], numpy_forward(dense, x)[:, j], rtol=1e-13, atol=1e-13)
    nets = [random_net(rng, (2, 3, 4, 1), act) for _ in range(m)]
    joined = ma.calculus.parallel(*nets)  # block-diagonal: each block is its network again
    assert all(same_weights(output_component(joined, j), nets[j]) for j in range(m))


def test_output_component_checks_its_index():
    net = random_net(np.random.default_rng(1), (2, 3, 2))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        output_component(net, 2)
    with pytest.raises(ValueError, match="j must be"):
        output_component(net, -1)


# --- mixtures with m outputs ------------------------------------------------------------------
@pytest.mark.parametrize("expert, size, components", [
    ("constant", {}, (CONE, LEVEL)),
    ("cpwl", {"k": 2}, (CONE, ma.targets.get("sine_product", n=2), LEVEL)),
    ("yarotsky", {"m": 3}, (ma.targets.get("sine_product", n=2), ma.targets.get("oscillatory", n=2))),
    ("optimal", {"A": 2, "B": 3}, (CONE, ma.targets.get("kink", n=2))),
])
def test_each_output_is_the_components_own_mixture(rng, expert, size, components):
    f, part = VectorTarget(components), ma.GridPartition(2, 3)
    moe = ma.build_moe(f, part, expert=expert, **size)
    x = rng.random((200, 2))
    y = np.asarray(moe(x))
    assert moe.m == len(components) and y.shape == (200, moe.m) and moe.size == ma.build_moe(components[0], part, expert, **size).size
    nonzero = 0
    for j, target in enumerate(components):
        alone = ma.build_moe(target, part, expert=expert, **size)
        own = moe.component(j)
        assert same_weights(own.experts, alone.experts) and own.family == expert
        np.testing.assert_allclose(y[:, j], np.asarray(alone(x)), rtol=1e-12, atol=1e-12)
        nonzero += int(np.sum(alone.experts.num_nonzero))
    # parallel composition: the nonzeros are the components' (docs/theory.md §5, vector targets), each at most
    # the family's closed form; width m times the closed form, depth the closed form, stored entries those of
    # the block-diagonal layers
    family, m = ma.experts.get(expert), moe.m
    assert int(np.sum(moe.experts.num_nonzero)) == nonzero
    assert int(np.max(moe.experts.num_nonzero)) <= m * family.num_nonzero(2, "relu", **size)
    assert (moe.expert_width, moe.expert_depth) == (m * family.width(2, "relu", **size), family.depth(2, "relu", **size))
    d = alone.experts.widths
    stored = d[0] * m * d[1] + sum(m * a * m * b for a, b in zip(d[1:-1], d[2:])) + m * sum(d[1:])
    assert moe.expert_params == stored and alone.expert_params == family.num_params(2, "relu", **size)


def test_dense_mixture_with_m_outputs_evaluates_like_numpy(rng):
    part = ma.GridPartition(2, 3)
    moe = ma.MixtureOfExperts(part, random_net(rng, (2, 4, 3), "prelu", batch=(part.num_cells,)))
    x = dense_grid(2, 20)
    y = np.asarray(moe(x))
    for j in range(3):
        one = moe.component(j)
        assert one.family == "custom" and one.experts.widths == (2, 4, 1)
        np.testing.assert_allclose(y[:, j], numpy_moe(one, x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.asarray(moe.apply_per_point(jnp.asarray(x))), y, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        moe.component(3)
    nets = [ma.mlp.index_stack(moe.experts, i) for i in range(part.num_cells)]
    again = ma.MixtureOfExperts.from_experts(part, nets)
    np.testing.assert_array_equal(np.asarray(again(x)), y)


# --- certified brackets -----------------------------------------------------------------------
def dense_errors(f, moe, per_side=200):
    x = dense_grid(f.n, per_side)
    return np.abs(np.asarray(f(x)) - np.asarray(moe(x)).reshape(len(x), -1)).max(axis=0)


def test_constant_experts_give_c_h_over_2_per_component():
    """|cone − cone(c)| on a cell of side h reaches C h/2 at a corner (docs/theory.md §4.1): 1/8 and 1/4
    for C = 1, 2 on a 4 × 4 grid; a constant component is reproduced exactly."""
    f = VectorTarget([CONE, LEVEL, DOUBLE_CONE])
    moe = ma.build_moe(f, ma.GridPartition(2, 4), expert="constant")
    report = ma.sup_error(f, moe, rtol=1e-3)
    assert report.certified and report.lower <= 0.25 <= report.upper <= 0.25 * (1 + 1e-3)
    for j, exact in enumerate([0.125, 0.0, 0.25]):
        assert report.component_lower[j] <= exact <= report.component_upper[j] <= 0.25 * (1 + 1e-3)
    assert report.component_lower[1] == 0.0 and report.component_upper[1] < 1e-12
    assert [c.lower for c in report.components] == list(report.component_lower)
    np.testing.assert_allclose(dense_errors(f, moe, 8), [0.125, 0.0, 0.25], rtol=0, atol=1e-15)


def test_brackets_contain_dense_sampling_per_component_and_for_the_max():
    f = ma.targets.from_sympy(["sin(3*x1) * x2", "x1*x2 - x2^2", "exp(-x1) / 4"], 2)
    moe = ma.build_moe(f, ma.GridPartition(2, 3), expert="cpwl", k=2)
    rtol = 1e-2
    report = ma.sup_error(f, moe, rtol=rtol)
    dense = dense_errors(f, moe)
    assert report.certified and report.upper - report.lower <= rtol * report.lower
    assert np.all(dense <= report.component_upper) and dense.max() <= report.upper
    assert report.upper == report.component_upper.max() and report.lower == report.component_lower.max()
    for j, r in enumerate(report.components):  # every lower end is an error attained at its argmax
        at = np.abs(np.asarray(f.components[j](r.argmax[None])) - np.asarray(moe.component(j)(r.argmax[None])))
        assert r.lower <= at[0] * (1 + 1e-12) and r.lower <= dense[j] * (1 + 1e-9) + 1e-3
    best = int(np.argmax(report.component_lower))
    np.testing.assert_array_equal(report.argmax, report.components[best].argmax)
    assert report.cell_upper.shape == (9,) and report.upper == report.cell_upper.max()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), m=st.integers(2, 3), act=st.sampled_from(["relu", "prelu"]))
def test_bracket_is_sound_on_random_mixtures_with_m_outputs(seed, m, act):
    """Random (not block-diagonal) experts with m outputs against m library targets: every component's
    upper end and the vector's lie above the dense numpy maximum, every lower end is attained."""
    rng = np.random.default_rng(seed)
    part = ma.GridPartition(2, 2)
    moe = ma.MixtureOfExperts(part, random_net(rng, (2, 5, m), act, batch=(part.num_cells,)))
    f = VectorTarget([ma.targets.get(name, n=2) for name in ("cone", "kink", "gaussian_bump")[:m]])
    report = ma.sup_error(f, moe, rtol=1e-2, max_evals=2**13)
    x = dense_grid(2, 100)
    dense = np.abs(np.asarray(f(x)) - np.stack([numpy_moe(moe.component(j), x) for j in range(m)], axis=-1)).max(axis=0)
    assert np.all(dense <= report.component_upper) and dense.max() <= report.upper
    for j, r in enumerate(report.components):
        at = r.argmax[None]
        assert abs(float(f.components[j](at)[0]) - numpy_moe(moe.component(j), at)[0]) >= r.lower - 1e-12


def test_one_component_is_the_scalar_result():
    part = ma.GridPartition(2, 3)
    scalar_moe = ma.build_moe(CONE, part, expert="cpwl")
    vector_moe = ma.build_moe(VectorTarget([CONE]), part, expert="cpwl")
    assert vector_moe.m == 1 and same_weights(vector_moe.experts, scalar_moe.experts)
    assert np.asarray(vector_moe(np.full((4, 2), 0.3))).shape == (4,)
    scalar = ma.sup_error(CONE, scalar_moe, rtol=1e-3)
    vector = ma.sup_error(VectorTarget([CONE]), vector_moe, rtol=1e-3)
    assert (vector.lower, vector.upper, vector.evaluations) == (scalar.lower, scalar.upper, scalar.evaluations)
    assert list(vector.component_upper) == [scalar.upper] and scalar.component_upper is None


def test_mismatches_are_refused():
    f = VectorTarget([CONE, LEVEL])
    moe = ma.build_moe(f, ma.GridPartition(2, 2))
    with pytest.raises(TypeError, match="must be a VectorTarget with 2 components"):
        ma.sup_error(CONE, moe)
    with pytest.raises(ValueError, match="m=3 components but the MoE has 2"):
        ma.sup_error(VectorTarget([CONE, LEVEL, CONE]), moe)
    with pytest.raises(ValueError, match="n=1 but the MoE on n=2"):
        ma.sup_error(VectorTarget([ma.targets.get("cone", n=1)] * 2), moe)
    with pytest.raises(ValueError, match="n=2 but partition on n=1"):
        ma.build_moe(f, ma.GridPartition(1, 2))
    with pytest.raises(ValueError, match="one output"):
        ma.certify.box_bounds(f, moe, [0], [[0.0, 0.0]], [[0.1, 0.1]])
    with pytest.raises(ValueError, match="floor"):
        ma.sup_error(CONE, ma.build_moe(CONE, ma.GridPartition(2, 2)), floor=-1.0)


# --- saving -----------------------------------------------------------------------------------
def test_save_load_round_trip_with_two_outputs(tmp_path):
    f = ma.targets.from_sympy(["sin(x1)", "x1*x2"], 2)
    moe = ma.build_moe(f, ma.DyadicPartition(2, 1).refine([0]), expert="cpwl")
    back = ma.load(ma.io.save(moe, tmp_path / "pair", target=f))
    x = dense_grid(2, 30)
    np.testing.assert_array_equal(np.asarray(back(x)), np.asarray(moe(x)))
    assert back.m == 2 and back.total_nonzero == moe.total_nonzero and back.family == "cpwl"
    assert same_weights(back.component(1).experts, moe.component(1).experts)
    info = back.target_info
    assert (info["m"], [c["name"] for c in info["components"]]) == (2, ["sin(x1)", "x1*x2"])
    with pytest.raises(ValueError, match="m=1 outputs but the mixture 2"):
        ma.io.save(moe, tmp_path / "wrong", target=CONE)


def test_approximate_certifies_every_component():
    f = VectorTarget([ma.targets.get("kink", n=1), ma.targets.get("cusp", n=1)])
    moe = ma.approximate(f, 0.05, expert="constant", progress=False)
    cert = moe.certificate
    assert moe.m == 2 and cert.bound <= 0.05 and len(cert.assumptions) == 2
    assert dense_errors(f, moe, 20000).max() <= cert.bound
    for j, target in enumerate(f.components):  # each output is that component's constant expert on every cell
        lo, hi = moe.partition.all_bounds()
        np.testing.assert_array_equal(np.asarray(moe.component(j).experts.layers[0][1])[:, 0],
                                      np.asarray(target((lo + hi) / 2)))


def test_design_with_m_outputs_counts_m_experts_in_parallel():
    one, three = (ma.rates.design("cpwl", 0.02, 1, 2, 1, m=m) for m in (1, 3))
    assert (three.cells_per_side, three.sizes, three.depth, three.error_bound) == \
        (one.cells_per_side, one.sizes, one.depth, one.error_bound)
    assert (three.expert_params, three.width) == (3 * one.expert_params, 3 * one.width)
    assert three.active_params == 3 * one.expert_params + one.router.active
    assert three.total_params == one.num_experts * 3 * one.expert_params + one.router.total
    f = VectorTarget([CONE, ma.targets.get("sine_product", n=2), ma.targets.get("gaussian_bump", n=2)])
    moe = ma.build_moe(f, ma.GridPartition(2, three.cells_per_side), expert="cpwl", **three.sizes)
    assert (moe.expert_width, moe.expert_depth) == (three.width, three.depth)
    assert int(np.max(moe.experts.num_nonzero)) <= three.expert_params  # generic position is the most
    with pytest.raises(ValueError, match="m must be"):
        ma.rates.design("cpwl", 0.02, 1, 2, 1, m=0)


def test_a_small_component_closes_on_its_first_boxes():
    """The component with the larger error runs first whatever its place; the small one (error 1/800
    against 1/8) then closes every cell on its first box: no box is split."""
    small = ma.HolderTarget(lambda x: CONE.fn(x) / 100, 2, 1.0, 0.01, name="cone/100")
    f = VectorTarget([small, CONE])
    moe = ma.build_moe(f, ma.GridPartition(2, 4), expert="constant")
    report = ma.sup_error(f, moe, rtol=1e-3)
    assert report.certified and report.components[0].boxes == moe.num_experts
    assert report.component_lower[0] <= 1 / 800 <= report.component_upper[0] <= 0.125 * (1 + 1e-3)
    alone = ma.sup_error(small, moe.component(0), rtol=1e-3)
    assert alone.evaluations > moe.num_experts and alone.lower <= 1 / 800 <= alone.upper


def test_cells_restrict_every_component():
    f = VectorTarget([CONE, DOUBLE_CONE])
    moe = ma.build_moe(f, ma.GridPartition(2, 4), expert="constant")
    part = ma.sup_error(f, moe, rtol=1e-3, cells=[0, 5])
    assert part.cell_upper.shape == (2,) and part.lower <= 0.25 <= part.upper
    with pytest.raises(ValueError, match="cells must be distinct cell indices"):
        ma.sup_error(f, moe, cells=[0, 99])
