"""Issue 18 items 1–3 and 7 (part): certificates that hold at the edges (docs/theory.md §5).

Covering: boxes are float endpoints split at float midpoints, bounded on a covering centre ± radius,
so they contain every point the router sends to their cell. Family labels are checked before an
exact constant is read off the weights. ``certified`` means upper − lower <= rtol·lower + atol with
the user's atol (0 by default); float64 resolution is reported as ``limited_by``, never certified.
"""

import warnings
from fractions import Fraction

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx.certify import evaluator
from moe_approx import boxes
from moe_approx.boxes import covering_box, split
from moe_approx.experts import cpwl


def covers(lo, hi, c, r, rows=256) -> bool:
    """[c − r, c + r] ⊇ [lo, hi] in floats, and in exact rational arithmetic on ``rows`` sampled rows."""
    lo, hi, c, r = (np.atleast_2d(a) for a in (lo, hi, c, r))
    pick = np.random.default_rng(0).permutation(len(lo))[:rows]
    lo, hi, c, r = lo[pick], hi[pick], c[pick], r[pick]
    exact = all(Fraction(float(ci)) - Fraction(float(ri)) <= Fraction(float(l)) and
                Fraction(float(ci)) + Fraction(float(ri)) >= Fraction(float(h))
                for l, h, ci, ri in zip(np.ravel(lo), np.ravel(hi), np.ravel(c), np.ravel(r)))
    return exact and bool(np.all(c - r <= lo) and np.all(c + r >= hi))


def all_cells_covered(lo, hi) -> bool:
    c, r = covering_box(lo, hi)
    return bool(np.all(c - r <= lo) and np.all(c + r >= hi)) and covers(lo, hi, c, r)


# --- item 1: covering ---------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(K=st.integers(2, 200), n=st.integers(1, 3), seed=st.integers(0, 2**31))
def test_routed_points_lie_in_covering_boxes_of_their_cells(K, n, seed):
    """Every point the router sends to a cell of a (non-dyadic) grid lies in the cell's closed float
    box, and the covering box of that cell contains it, exactly; the faces and their float
    neighbours included."""
    part = ma.GridPartition(n, K)
    lo, hi = part.all_bounds()
    rng = np.random.default_rng(seed)
    faces = np.arange(K + 1) / K
    near = np.concatenate([faces, np.nextafter(faces, -1.0), np.nextafter(faces, 2.0)]).clip(0.0, 1.0)
    x = np.concatenate([rng.random((64, n)), rng.choice(near, size=(256, n))])
    with jax.disable_jit():  # the router's own code, run eagerly: one compilation per K would dominate
        cell = np.asarray(part.locate(x))
    assert np.all((lo[cell] <= x) & (x <= hi[cell]))
    c, r = covering_box(lo[cell], hi[cell])
    assert covers(x, x, c, r, rows=len(x))
    assert all_cells_covered(lo, hi)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), seed=st.integers(0, 2**31), depth=st.integers(1, 12))
def test_children_cover_their_parent_exactly(n, seed, depth):
    """Splitting at float midpoints tiles the parent: each axis of the children is [lo, m] or [m, hi]
    with the same float m, so every point of the parent (its faces and cut planes included) is in
    some child. Checked down a random path of ``depth`` splits from a non-dyadic box."""
    rng = np.random.default_rng(seed)
    a, b = np.sort(rng.random((2, n)) / rng.integers(1, 200, (2, n)), axis=0)
    lo, hi = a[None], np.maximum(b, np.nextafter(a, 2.0))[None]
    for _ in range(depth):
        parent, c_lo, c_hi, stuck = split(lo, hi)
        assert not stuck.any() and np.all(parent == 0)
        mid = 0.5 * (lo + hi)
        corners = np.where(rng.random((64, n)) < 0.5, lo, hi)
        planes = np.where(rng.random((64, n)) < 0.5, mid, lo + (hi - lo) * rng.random((64, n)))
        points = np.concatenate([lo + (hi - lo) * rng.random((64, n)), corners, planes, lo, hi, mid])
        inside = np.all((c_lo[None] <= points[:, None]) & (points[:, None] <= c_hi[None]), axis=2)
        assert inside.any(axis=1).all()
        assert all_cells_covered(c_lo, c_hi)
        pick = rng.integers(len(c_lo))
        lo, hi = c_lo[pick:pick + 1], c_hi[pick:pick + 1]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), seed=st.integers(0, 2**31), scored=st.booleans())
def test_cutting_every_axis_agrees_with_the_ranked_cut(n, seed, scored):
    """For n <= MAX_SPLIT_AXES, split cuts the scoring axes directly (no ranking, boxes._cut_all); the
    ranked cut of the largest axes (boxes._cut_largest, used for n > MAX_SPLIT_AXES) must give the same
    children: ties, zero and NaN scores, unsplittable axes and unsplittable boxes included."""
    rng = np.random.default_rng(seed)
    N = 200
    lo = rng.random((N, n)) / rng.integers(1, 50, (N, n))
    hi = lo + rng.choice([0.0, 1e-3, 1.0], (N, n)) * rng.random((N, n))
    hi[::7, 0] = np.nextafter(lo[::7, 0], 2.0)  # no float strictly inside
    score = rng.choice([0.0, 0.5, 1.0, np.nan, np.inf], (N, n)) if scored else None
    mid = 0.5 * (lo + hi)
    splittable = (lo < mid) & (mid < hi)
    width = np.where(splittable, hi - lo if score is None else np.nan_to_num(score, nan=np.inf, posinf=np.inf), 0.0)
    width = np.where(~np.any(width > 0, axis=1, keepdims=True) & splittable, hi - lo, width)
    largest = width.max(axis=1)
    use, stuck = (width >= 0.5 * largest[:, None]) & (width > 0), ~(largest > 0)
    got = boxes._cut_all(lo, hi, mid, use, stuck)
    want = boxes._cut_largest(lo, hi, mid, width, use, stuck)

    def rows(parent, c_lo, c_hi):
        return sorted(zip(parent.tolist(), map(tuple, c_lo.tolist()), map(tuple, c_hi.tolist())))

    assert rows(*got) == rows(*want)
    assert np.array_equal(split(lo, hi, score)[0], got[0])


def test_a_box_one_ulp_wide_is_not_split():
    a = 1 / 3
    parent, lo, hi, stuck = split(np.array([[a, 0.0]]), np.array([[np.nextafter(a, 1.0), 0.0]]))
    assert stuck.tolist() == [True] and len(parent) == 0


def test_step_at_a_non_dyadic_face_is_not_certified_away():
    """The issue's reproducer: a smooth step that jumps from 1 to 0 within an ulp of the float 1/3,
    a face of GridPartition(1, 3). f(1/3) ≈ 1 but the expert of the cell [1/3, 2/3] is ≈ 0: the
    bound must cover the face (it was certified at 4.5e-5 before)."""
    a = repr(1 / 3)
    f = ma.targets.from_sympy(f"(1 - tanh(1e51*(x1 - {a})**3 - 5))/2", 1)
    moe = ma.build_moe(f, ma.GridPartition(1, 3), expert="constant")
    x = np.array([[1 / 3]])
    truth = float(np.abs(np.asarray(f(x)) - np.asarray(moe(x)))[0])
    assert truth > 0.99
    report = ma.sup_error(f, moe, rtol=1e-3, max_evals=2**12)
    assert report.upper >= truth and not report.certified
    assert report.lower <= report.upper


# --- item 2: family labels are claims -------------------------------------------------------------

def lying_cpwl(n=2, K=2):
    f = ma.targets.get("cone", n=n)
    part = ma.GridPartition(n, K)
    honest = ma.build_moe(f, part, expert="cpwl")
    w, b = (np.asarray(a) for a in honest.experts.layers[0])
    layers = ((3 * w, 3 * b),) + tuple(honest.experts.layers[1:])
    net = ma.MLP(layers, honest.experts.slopes, honest.experts.activation)
    return f, honest, ma.MixtureOfExperts.from_experts(part, net, family="cpwl", size=honest.size)


def dense_max(f, moe, n, m=401):
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, m)] * n, indexing="ij"), -1).reshape(-1, n)
    return float(np.max(np.abs(np.asarray(f(grid)) - np.asarray(moe(grid)))))


def test_a_false_family_label_is_not_trusted(tmp_path):
    """First layer scaled by 3 but labelled cpwl: the exact constant would be read off the last layer
    (it reported lower 0.75 > upper 0.25, certified). Now the label is checked, a warning names it,
    the weight-based bound is used, and the bracket holds, also after save and load."""
    f, honest, liar = lying_cpwl()
    assert not cpwl.matches(liar.experts, *liar.partition.all_bounds(), **liar.size)
    truth = dense_max(f, liar, 2)
    for moe in (liar, ma.load(liar.save(tmp_path / "liar.npz"))):
        with pytest.warns(UserWarning, match="labelled 'cpwl' but are not that construction"):
            report = ma.sup_error(f, moe, rtol=1e-2)
        assert report.lower <= report.upper and truth <= report.upper
        at_argmax = float(np.abs(np.asarray(f(report.argmax[None])) - np.asarray(moe(report.argmax[None])))[0])
        assert report.lower <= at_argmax * (1 + 1e-12)  # the lower end is an error attained


def test_an_honest_family_label_keeps_its_exact_constant(tmp_path):
    f, honest, _ = lying_cpwl()
    lo, hi = honest.partition.all_bounds()
    exact = cpwl.lipschitz(honest.experts, lo, hi, **honest.size)
    for moe in (honest, ma.load(honest.save(tmp_path / "honest.npz"))):
        assert cpwl.matches(moe.experts, lo, hi, **moe.size)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            report = ma.sup_error(f, moe, rtol=1e-3)
        assert np.all(report.lipschitz <= exact)  # the exact constant was used (the weight bound is larger)
        assert report.lower <= 1 / 8 <= report.upper  # the cone's cpwl error on cells of side 1/2 (k = 2)


def test_lower_above_upper_is_an_internal_error(monkeypatch):
    """Never report lower > upper: a kernel that claims it raises instead."""
    f = ma.targets.get("cone", n=1)
    moe = ma.build_moe(f, ma.GridPartition(1, 2))
    original = evaluator._Evaluator.points

    def broken(self, cell, centre, radius):
        out = list(original(self, cell, centre, radius))
        out[3] = out[2] + 1.0  # lower := upper + 1
        return tuple(out)

    monkeypatch.setattr(evaluator._Evaluator, "points", broken)
    with pytest.raises(RuntimeError, match="internal error"):
        ma.sup_error(f, moe)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 2), seed=st.integers(0, 2**31), slope=st.sampled_from([0.0, -0.5, 0.3, 2.0]))
def test_no_report_has_lower_above_upper(n, seed, slope):
    """Random PReLU experts, one per cell, against a library target: lower <= dense max <= upper."""
    rng = np.random.default_rng(seed)
    part = ma.GridPartition(n, 2)
    nets = [ma.MLP.from_arrays([rng.normal(size=(n, 6)), rng.normal(size=(6, 1))], [rng.normal(size=6), rng.normal(size=1)],
                               activation="prelu", slopes=[np.full(6, slope)]) for _ in range(part.num_cells)]
    moe = ma.MixtureOfExperts.from_experts(part, nets)
    f = ma.targets.get("gaussian_bump", n=n)
    report = ma.sup_error(f, moe, rtol=1e-2, max_evals=2**12)
    assert report.lower <= report.upper
    assert dense_max(f, moe, n, 201 if n == 2 else 4001) <= report.upper


# --- item 3: certified means what a reader assumes ------------------------------------------------

def test_a_bracket_at_float_resolution_is_not_certified():
    """Φ = 1e15·relu(x) − 1e15·relu(x) is 0, but its rounding bound δ is about 0.25: f = 0 gets the
    bracket [0, ~δ]. It stops (no split helps) but is reported as limited by float64, not certified."""
    big = 1e15
    net = ma.MLP.from_arrays([np.array([[big, big]]), np.array([[1.0], [-1.0]])], [np.zeros(2), np.zeros(1)])
    zero = ma.HolderTarget(lambda x: 0.0 * x[..., 0], 1, 1.0, 1.0, "zero")
    report = ma.sup_error(zero, net, rtol=1e-3, max_evals=2**12)
    assert report.lower == 0.0 and report.upper > 0.01
    assert not report.certified and report.limited_by == "float64" and report.atol == 0.0
    assert report.upper <= report.resolution


def test_budget_and_user_atol():
    f = ma.targets.get("cone", n=2)
    moe = ma.build_moe(f, ma.GridPartition(2, 4))
    short = ma.sup_error(f, moe, rtol=1e-6, max_evals=16)
    assert not short.certified and short.limited_by == "budget" and short.lower <= 1 / 8 <= short.upper
    loose = ma.sup_error(f, moe, rtol=1e-6, atol=0.5, max_evals=16)
    assert loose.certified and loose.limited_by is None and loose.atol == 0.5
    assert loose.upper - loose.lower <= 1e-6 * loose.lower + 0.5


# --- item 7 (part): approximate -------------------------------------------------------------------

def test_approximate_refuses_optimal_experts_up_front():
    with pytest.raises(ValueError, match="optimal.*cannot be certified"):
        ma.approximate(ma.targets.get("cone", n=1), 0.1, expert="optimal")


def test_failed_approximate_attaches_its_mixture_and_suggests_a_route():
    f = ma.targets.get("cusp", n=1)
    with pytest.raises(ma.ApproximationError, match="from_sympy") as info:
        ma.approximate(f, 1e-3, expert="constant", max_experts=8)
    moe = info.value.mixture
    assert isinstance(moe, ma.MixtureOfExperts) and moe.num_experts <= 8
    bounds = moe.certificate.cell_bounds
    assert bounds.shape == (moe.num_experts,) and np.all(np.isfinite(bounds))
    assert moe.certificate.bound == bounds.max() > 1e-3
    x = np.linspace(0, 1, 20001)[:, None]
    err = np.abs(np.asarray(f(x)) - np.asarray(moe(x)))
    cell = np.asarray(moe.partition.locate(x))
    assert np.all(err <= bounds[cell] * (1 + 1e-12))


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["add", "kill", "close", "view"]), st.integers(0, 2**31)),
                    min_size=1, max_size=30))
def test_the_open_set_keeps_exactly_the_live_boxes(ops):
    """The open set's buffers (certify.state._Rows: rows appended in place, dead rows marked and dropped
    later) against a plain list of boxes under random adds, splits (kill), closes and views: the same boxes
    with the same values, every closed box's bound in its cell, and the dead rows never seen."""
    from moe_approx.certify.state import _State

    state = _State(np.zeros(5), np.full(5, -np.inf), np.zeros(5, np.int64))
    model, serial = {}, 0  # id -> (cell, upper); each box's fc holds its id
    for op, seed in ops:
        rng = np.random.default_rng(seed)
        if op == "add":
            k = int(rng.integers(0, 40))
            cell, upper = rng.integers(0, 5, k), rng.uniform(0, 1, k)
            ids = np.arange(serial, serial + k, dtype=np.float64)
            serial += k
            lo = rng.uniform(0, 0.5, (k, 2))
            state.add_open(cell, lo, lo + 0.5, upper, ids, np.ones((k, 2)))
            model.update({int(i): (int(c), float(u)) for i, c, u in zip(ids, cell, upper)})
        elif state.open.live is not None and op in ("kill", "close"):
            live = np.flatnonzero(state.open.raw("upper") > -np.inf)
            rows = rng.choice(live, size=int(rng.integers(0, len(live) + 1)), replace=False)
            for i in state.open.raw("fc")[rows]:
                cell, upper = model.pop(int(i))
                if op == "close":
                    state.cell_upper[cell] = max(state.cell_upper[cell], upper)
            if op == "kill":
                state.open.kill(rows)
            else:
                mask = np.zeros(state.open.count, bool)
                mask[rows] = True
                state.close(mask)
        elif op == "view" and state.open.live is not None:
            assert len(state.open_fc) == state.open_count
        assert state.open_count == len(model)
        expected = np.full(5, -np.inf)
        for cell, upper in model.values():
            expected[cell] = max(expected[cell], upper)
        np.testing.assert_array_equal(state.cell_upper_all(), np.maximum(state.cell_upper, expected))
    if state.open.live is not None:
        ids = state.open_fc.astype(int)
        assert sorted(ids.tolist()) == sorted(model)
        for i, c, u in zip(ids, state.open_cell, state.open_upper):
            assert model[int(i)] == (int(c), float(u))
