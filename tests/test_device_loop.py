"""The branch and bound on the device (moe_approx.certify.device_loop): the same certificate as the host loop.

Soundness: brackets of random (P)ReLU mixtures against dense sampling, closed forms inside the
brackets, the selection and the (child, parent) test against their host definitions, and every
stop that hands a check to the host. Small batches (monkeypatched) keep compilations few and fast.
"""

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx.assumptions import AssumptionError, check_pairs
from moe_approx.certify import device_loop, driver, state
from moe_approx.mlp import MLP

sys.path.insert(0, str(Path(__file__).parent))
from nets import on_host_devices  # noqa: E402

def _smooth(n):
    """0.5 sin(3 x1) + 0.25 cos(2 Σx): Lipschitz in ‖·‖∞ with C = 1.5 + 0.5 n (declared generously)."""
    return ma.HolderTarget(lambda x: 0.5 * jnp.sin(3 * x[..., 0]) + 0.25 * jnp.cos(2 * jnp.sum(x, -1)), n, 1.0,
                           1.5 + 0.5 * n, f"smooth{n}")


TARGETS = {n: _smooth(n) for n in (1, 2, 3, 4)}
CELLS = {1: 32, 2: 6, 3: 3, 4: 2}  # cells per side: 32, 36, 27, 16 cells


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(device_loop, "BATCHES", (4, 256))


def _random_mixture(n, seed, activation):
    rng = np.random.default_rng(seed)
    partition = ma.GridPartition(n, CELLS[n])
    L, widths = partition.num_cells, (n, 6, 6, 1)
    weights = [rng.normal(size=(L, a, b)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    biases = [rng.normal(size=(L, b)) * 0.3 for b in widths[1:]]
    slopes = None if activation == "relu" else rng.uniform(-0.5, 1.5, size=(2, L, 6))
    net = MLP.from_arrays(weights, biases, activation, slopes=slopes)
    return ma.MixtureOfExperts(partition, net)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.sampled_from([1, 2, 3, 4]), seed=st.integers(0, 2**31), activation=st.sampled_from(["relu", "prelu"]))
@example(n=4, seed=1, activation="prelu")
def test_random_mixtures_bracket_the_dense_maximum(small_batches, n, seed, activation):
    f, moe = TARGETS[n], _random_mixture(n, seed, activation)
    report = ma.sup_error(f, moe, rtol=1e-6, loop="device", progress=False)
    assert report.device_steps > 0
    side = {1: 4001, 2: 201, 3: 41, 4: 17}[n]
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, side)] * n, indexing="ij"), -1).reshape(-1, n)
    dense = float(np.max(np.abs(np.asarray(f(grid)) - np.asarray(moe(grid)))))
    assert dense <= report.upper
    attained = abs(float(f(report.argmax[None])[0]) - float(moe(report.argmax[None])[0]))
    assert report.lower <= attained * (1 + 1e-12) + 1e-15 and attained <= report.upper
    host = ma.sup_error(f, moe, rtol=1e-6, loop="host", progress=False)
    assert report.lower <= host.upper and host.lower <= report.upper  # two proofs of one number


def test_constant_experts_on_the_cone_give_the_closed_form(monkeypatch):
    """Constant experts on a K-grid approximate the cone with error exactly C·h/2 (docs/theory.md §4.1)."""
    monkeypatch.setattr(device_loop, "BATCHES", (64, 1024))
    monkeypatch.setattr(driver, "PROBE_BOXES", 0)  # the probes would find the faces on the host's first step
    f = ma.targets.get("cone", n=2)
    moe = ma.build_moe(f, ma.GridPartition(2, 16), expert="constant")
    report = ma.sup_error(f, moe, rtol=1e-4, loop="device", progress=False)
    assert report.device_steps > 0 and report.certified
    assert report.lower <= 1 / 32 <= report.upper


def test_a_formula_target_on_the_device(monkeypatch):
    monkeypatch.setattr(device_loop, "BATCHES", (64, 1024))
    f = ma.targets.from_sympy("sin(3*x1)*x2 + x1**2/4", 2)
    moe = ma.build_moe(f, ma.GridPartition(2, 8), expert="cpwl")
    report = ma.sup_error(f, moe, rtol=1e-3, loop="device", progress=False)
    assert report.device_steps > 0 and report.certified
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 401)] * 2, indexing="ij"), -1).reshape(-1, 2)
    assert float(np.max(np.abs(np.asarray(f(grid)) - np.asarray(moe(grid))))) <= report.upper


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), count=st.integers(0, 200), ties=st.booleans())
def test_selection_takes_the_worst_boxes(seed, count, ties):
    """_worst picks min(K, open) distinct open slots, none beaten by an unpicked open box by more than
    (max − min)/2^rounds."""
    rng = np.random.default_rng(seed)
    F, K, rounds = 256, 32, device_loop.SELECT_ROUNDS
    alive = np.zeros(F, bool)
    alive[rng.choice(F, count, replace=False)] = True
    upper = rng.integers(0, 4, F).astype(float) if ties else rng.exponential(size=F)
    pick, chosen = (np.asarray(a) for a in device_loop._worst(jnp.asarray(alive), jnp.asarray(upper), K, rounds))
    taken = pick[chosen]
    assert len(taken) == min(K, count) and len(set(taken.tolist())) == len(taken) and alive[taken].all()
    rest = np.setdiff1d(np.nonzero(alive)[0], taken)
    if len(rest) and len(taken):
        spread = upper[alive].max() - upper[alive].min()
        assert upper[rest].max() <= upper[taken].min() + spread / 2**rounds


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), constant=st.floats(0.5, 3.0))
def test_pair_test_is_the_hosts(seed, constant):
    """The device flags a batch of (child, parent) pairs exactly when check_pairs refuses it (its witness
    is refused alone too)."""
    rng = np.random.default_rng(seed)
    f = ma.HolderTarget(lambda x: jnp.sin(2.0 * x[..., 0]) + x[..., 1] ** 2, 2, 1.0, constant, "probe")
    x, y = rng.random((64, 2)), rng.random((64, 2))
    fx, fy = np.asarray(f(x)), np.asarray(f(y))
    flags = np.asarray(device_loop._pair_suspect(f, jnp.asarray(x), jnp.asarray(y), jnp.asarray(fx), jnp.asarray(fy),
                                                 jnp.ones(64, bool)))
    try:
        check_pairs(f, x, y, fx, fy)
        refused = False
    except AssumptionError:
        refused = True
    assert flags.any() == refused
    if refused:
        i = int(np.argmax(flags))
        with pytest.raises(AssumptionError):
            check_pairs(f, x[i:i + 1], y[i:i + 1], fx[i:i + 1], fy[i:i + 1])


def test_device_stops_hand_their_checks_to_the_host():
    """A NONFINITE or CROSSED stop raises on the host with the witness; a PAIR stop runs check_pairs."""
    f = ma.HolderTarget(lambda x: x[..., 0], 1, 1.0, 1.0, "ramp")
    st = state._State(np.zeros(1), np.zeros(1), np.zeros(1, np.int64))
    evaluate = type("E", (), {"target": f})()
    witness = np.array([[0.5, np.inf], [0.5, 0.0]])
    with pytest.raises(ValueError, match="non-finite"):
        driver._device_check(st, evaluate, device_loop.NONFINITE, witness)
    with pytest.raises(RuntimeError, match="exceeds its upper bound"):
        driver._device_check(st, evaluate, device_loop.CROSSED, np.array([[0.5, 2.0], [0.5, 1.0]]))
    with pytest.raises(AssumptionError):  # |f(x) − f(y)| = 1 over a distance 0.1 against C = 1
        driver._device_check(st, evaluate, device_loop.PAIR, np.array([[0.5, 1.5], [0.6, 0.5]]))
    driver._device_check(st, evaluate, device_loop.PAIR, np.array([[0.5, 0.5], [0.6, 0.6]]))  # a true pair passes


def test_boxes_no_float_splits_are_closed_by_the_host(monkeypatch):
    """Issue 18's reproducer: a step from 1 to 0 within an ulp of the float 1/3, a face of GridPartition(1, 3).
    The device loop stops at the box no float splits (STUCK), the host closes it at its bound, and the
    bracket is the host loop's: it covers the true error ≈ 1, limited by float64."""
    monkeypatch.setattr(device_loop, "BATCHES", (4, 256))
    stops = []
    check = driver._device_check
    monkeypatch.setattr(driver, "_device_check", lambda st, ev, stop, w: (stops.append(stop), check(st, ev, stop, w)))
    f = ma.targets.from_sympy(f"(1 - tanh(1e51*(x1 - {1 / 3!r})**3 - 5))/2", 1)
    moe = ma.build_moe(f, ma.GridPartition(1, 3), expert="constant")
    device = ma.sup_error(f, moe, rtol=1e-3, max_evals=2**12, loop="device", progress=False)
    host = ma.sup_error(f, moe, rtol=1e-3, max_evals=2**12, loop="host", progress=False)
    assert device_loop.STUCK in stops and device.device_steps > 0
    assert device.limited_by == host.limited_by == "float64" and device.upper == host.upper >= 0.99


MULTI_DEVICE = """
from moe_approx.certify import device_loop, driver
device_loop.BATCHES = (64, 1024)
driver.PROBE_BOXES = 0  # the device does the work (the probes may find the maximum on the host's first step)
moe = random_moe(np.random.default_rng(7), 2, 3, (6, 6), "prelu")
r = ma.sup_error(ma.targets.get("gaussian_bump", 2), moe, rtol=1e-4, loop="device", progress=False)
print(json.dumps([len(jax.devices()), r.device_steps, r.lower, r.upper, r.evaluations, r.cell_upper.tolist()]))
"""


def test_sharded_over_devices_gives_identical_brackets():
    """XLA_FLAGS=--xla_force_host_platform_device_count=4: the frontier's slots are sharded over 4 CPU
    devices and XLA partitions the loop; the bracket is the one device's, to the last bit."""
    out = on_host_devices(MULTI_DEVICE)
    assert out[0][0] == 1 and out[1][0] == 4 and out[0][1] > 0
    assert out[0][1:] == out[1][1:]


def test_loop_is_validated():
    f = ma.targets.get("cone", n=1)
    with pytest.raises(ValueError, match="loop must be one of"):
        ma.sup_error(f, ma.build_moe(f, ma.GridPartition(1, 2)), loop="gpu")


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**31), by_width=st.booleans())
def test_device_children_are_the_host_split(n, seed, by_width):
    """The compiled loop's children (device_loop._children: every axis a candidate for n <= 4, the top
    four by score beyond) are the host's (boxes.split), ties, zero and NaN scores, unsplittable axes and
    unsplittable boxes included (the mask ``real`` drops the children along uncut axes)."""
    from moe_approx.boxes import split

    rng = np.random.default_rng(seed)
    N = 64
    lo = rng.random((N, n)) / rng.integers(1, 50, (N, n))
    hi = lo + rng.choice([0.0, 1e-3, 1.0], (N, n)) * rng.random((N, n))
    hi[::7, 0] = np.nextafter(lo[::7, 0], 2.0)
    score = rng.choice([0.0, 0.5, 1.0, np.nan, np.inf], (N, n))
    c_lo, c_hi, real, splittable = (np.asarray(a) for a in device_loop._children(
        jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(score), by_width))
    parent, h_lo, h_hi, stuck = split(lo, hi, None if by_width else score)
    fan = len(c_lo) // N
    device = sorted(zip((np.arange(N * fan) // fan)[real].tolist(), map(tuple, c_lo[real].tolist()),
                        map(tuple, c_hi[real].tolist())))
    host = sorted(zip(parent.tolist(), map(tuple, h_lo.tolist()), map(tuple, h_hi.tolist())))
    assert np.array_equal(splittable, ~stuck)
    assert [row for row in device if splittable[row[0]]] == host
