"""Training (moe_approx.train): deterministic, experts independent, folding exact, data protocol, baselines."""

import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import moe_approx as ma
from moe_approx import train

KINK = ma.targets.get("kink", n=1)
SETTINGS = dict(width=4, depth=2, samples_per_side=40, steps=60, progress=False)


def test_grid_vertices_and_split():
    X = train.grid_vertices(2, 5)
    assert X.shape == (25, 2) and set(np.unique(X)) == {0.0, 0.25, 0.5, 0.75, 1.0}
    Xtr, ytr, Xte, yte = train.make_data(KINK, 50, 0.2, seed=3, loss="mse")
    assert len(Xte) == 10 and len(Xtr) == 40 and ytr.shape == (40, 1)
    together = np.sort(np.concatenate([Xtr, Xte])[:, 0])
    np.testing.assert_array_equal(together, train.grid_vertices(1, 50)[:, 0])  # a split of the s^n vertices
    np.testing.assert_array_equal(ytr[:, 0], np.asarray(KINK(Xtr)))


def test_training_is_deterministic_for_a_seed():
    part = ma.GridPartition(1, 4)
    a, ra = train.fit_moe(KINK, part, seed=1, **SETTINGS)
    b, rb = train.fit_moe(KINK, part, seed=1, **SETTINGS)
    c, _ = train.fit_moe(KINK, part, seed=2, **SETTINGS)
    for (wa, ba), (wb, bb) in zip(a.experts.layers, b.experts.layers):
        assert np.array_equal(wa, wb) and np.array_equal(ba, bb)
    np.testing.assert_array_equal(ra.loss, rb.loss)
    assert not np.array_equal(a.experts.layers[0][0], c.experts.layers[0][0])
    assert isinstance(a, ma.MixtureOfExperts) and a.num_experts == 4 and len(ra.loss) == SETTINGS["steps"]


def test_experts_are_trained_independently():
    """Changing the data of cell 1 leaves the expert of cell 0 bit for bit unchanged (Algorithm 2)."""
    part = ma.GridPartition(1, 2)
    X = train.grid_vertices(1, 41)
    y = np.asarray(KINK(X))
    y2 = np.where(X[:, 0] >= 0.5, np.sin(7 * X[:, 0]), y)
    a, _ = train.fit_moe((X, y), part, seed=0, test_fraction=0.0, **SETTINGS)
    b, _ = train.fit_moe((X, y2), part, seed=0, test_fraction=0.0, **SETTINGS)
    for (wa, ba), (wb, bb) in zip(a.experts.layers, b.experts.layers):
        assert np.array_equal(wa[0], wb[0]) and np.array_equal(ba[0], bb[0])
        assert not np.array_equal(wa[1], wb[1])


def test_returned_mixture_is_what_was_trained():
    """The folded experts act on x: their training MSE is the loss curve's last value (one more step apart)."""
    part = ma.GridPartition(2, 2)
    f = ma.targets.get("sine_product", n=2)
    moe, rec = train.fit_moe(f, part, width=6, depth=3, samples_per_side=12, steps=300, seed=0, progress=False)
    Xtr, ytr, _, _ = train.make_data(f, 12, 0.2, 0, "mse")
    mse = np.mean((np.asarray(moe(Xtr)) - ytr[:, 0]) ** 2)
    assert rec.loss[-1] < 0.5 * rec.loss[0]
    assert mse == pytest.approx(rec.loss[-1], rel=0.05)
    err = np.asarray(moe(rec.test[0])) - rec.test[1][:, 0]
    assert rec.test_rmse == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-12)
    assert rec.samples == len(Xtr) and rec.test_samples == 144 - len(Xtr) and rec.seconds > 0


def test_trained_mlp_certified_bracket_lies_above_its_test_error():
    """sup over the cube >= max over the test points: the certified upper end bounds the test maximum."""
    mlp, rec = train.fit_mlp(KINK, seed=0, **SETTINGS)
    assert isinstance(mlp, ma.MLP) and not mlp.batch_shape
    report = ma.sup_error(KINK, ma.as_mixture(mlp), rtol=1e-3, max_evals=2**12)
    assert report.upper >= rec.test_max_error * (1 - 1e-12)


def test_prelu_and_classification():
    rng = np.random.default_rng(0)
    X = rng.random((120, 3))
    labels = (X[:, 0] > 0.5).astype(int) + (X[:, 1] > 0.5)
    part = ma.PrototypePartition(rng.random((3, 3)))
    net, rec = train.fit_moe((X, labels), part, width=5, depth=2, activation="prelu", steps=200, loss="cross_entropy",
                             progress=False, learning_rate=0.05)
    assert isinstance(net, train.VectorMixture) and net(X).shape == (120, 3)
    assert net.experts.activation == "prelu" and 0.5 <= rec.test_accuracy <= 1.0
    assert net.total_params == 3 * train.mlp_params(3, 5, 2, "prelu", 3) + part.router_params_total


@pytest.mark.parametrize("params, depth, out", [(783, 3, 1), (5000, 2, 10), (40, 3, 1)])
def test_matching_width_is_closest(params, depth, out):
    w = train.matching_width(params, 2, depth, out=out)
    best = min(range(1, 1000), key=lambda v: abs(train.mlp_params(2, v, depth, "relu", out) - params))
    assert w == best


def test_errors():
    part = ma.GridPartition(1, 2)
    with pytest.raises(TypeError, match="partition"):
        train.fit_moe(KINK, "grid", width=3, depth=2)
    with pytest.raises(ValueError, match="loss"):
        train.fit_moe(KINK, part, width=3, depth=2, loss="l1")
    with pytest.raises(ValueError, match="one entry per row"):
        train.fit_moe((np.zeros((4, 1)), np.zeros(3)), part, width=3, depth=2)
    with pytest.raises(ValueError, match="unit cube"):
        train.fit_mlp((np.full((4, 1), 2.0), np.zeros(4)), width=3, depth=2)
    with pytest.raises(ValueError, match="partition is on n=2"):
        train.fit_moe(KINK, ma.GridPartition(2, 2), width=3, depth=2)


def test_sharded_over_two_devices_equals_one_device(tmp_path):
    """With two (host) devices the expert axis is sharded; the experts come out as on one device."""
    script = textwrap.dedent("""
        import numpy as np, sys, moe_approx as ma, jax
        assert jax.device_count() == 2
        moe, _ = ma.train.fit_moe(ma.targets.get("kink", n=1), ma.GridPartition(1, 4), width=4, depth=2,
                                  samples_per_side=40, steps=60, seed=0, progress=False)
        np.save(sys.argv[1], np.concatenate([np.ravel(w) for w, _ in moe.experts.layers]))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    path = tmp_path / "w.npy"
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(ma.__file__)))
    assert done.returncode == 0, done.stderr
    here, _ = train.fit_moe(KINK, ma.GridPartition(1, 4), seed=0, **SETTINGS)
    np.testing.assert_allclose(np.load(path), np.concatenate([np.ravel(w) for w, _ in here.experts.layers]),
                               rtol=1e-12, atol=1e-14)


# --- optimizer=, loss=, callback=, the default sample grid, progress (issue 20) -----------------------
def _same_params(a, b):
    return all(np.array_equal(wa, wb) and np.array_equal(ba, bb) for (wa, ba), (wb, bb) in zip(a.layers, b.layers))


def test_optimizer_default_is_adam_with_cosine_decay_and_can_be_replaced():
    import optax

    part, steps = ma.GridPartition(1, 2), SETTINGS["steps"]
    default, _ = train.fit_moe(KINK, part, **SETTINGS)
    same, _ = train.fit_moe(KINK, part, **SETTINGS, optimizer=optax.adam(optax.cosine_decay_schedule(1e-2, steps, alpha=0.01)))
    other, _ = train.fit_moe(KINK, part, **SETTINGS, optimizer=optax.sgd(1e-3))
    assert _same_params(default.experts, same.experts) and not _same_params(default.experts, other.experts)


def test_callable_loss_equal_to_mse_trains_identically():
    part = ma.GridPartition(1, 2)
    a, ra = train.fit_moe(KINK, part, **SETTINGS)
    b, rb = train.fit_moe(KINK, part, **SETTINGS, loss=lambda pred, y: ((pred - y) ** 2).mean(axis=-1))
    assert _same_params(a.experts, b.experts) and ra.test_max_error == rb.test_max_error


def test_smooth_max_loss_is_tau_log_mean_exp_between_mean_and_max():
    rng = np.random.default_rng(0)
    params = {"W": [rng.normal(size=(1, 1))], "b": [np.zeros(1)]}
    z, y = rng.uniform(-1, 1, (9, 1)), rng.normal(size=(9, 1))
    mask = np.array([1.0] * 7 + [0.0] * 2)  # the last two are padding
    err = np.abs(z @ params["W"][0] - y)[:7, 0]
    tau = train.SMOOTH_MAX_TAU
    want = tau * np.log(np.mean(np.exp(err / tau)))
    for kind in ("max", "l_inf-smooth"):
        got = float(train._loss(params, z, y, mask, kind))
        assert abs(got - want) <= 1e-12 * want
    assert err.mean() <= want <= err.max() and want >= err.max() - tau * np.log(7)


def test_max_loss_trains_and_returns_an_ordinary_mixture():
    moe, rec = train.fit_moe(KINK, ma.GridPartition(1, 2), **SETTINGS, loss="max")
    assert isinstance(moe, ma.MixtureOfExperts) and rec.loss[-1] < rec.loss[0] and np.isfinite(rec.test_max_error)


def test_callback_every_k_steps_and_early_stop():
    seen = []

    def callback(step, loss, params):
        seen.append((step, loss, params["W"][0].shape[0]))
        return step >= 20

    part = ma.GridPartition(1, 3)
    moe, rec = train.fit_moe(KINK, part, **SETTINGS, callback=callback, callback_every=10)
    assert [s for s, _, _ in seen] == [10, 20] and all(k == 3 for _, _, k in seen)
    assert rec.steps == 20 and len(rec.loss) == 20 and [l for _, l, _ in seen] == [rec.loss[9], rec.loss[19]]
    mlp, rec = train.fit_mlp(KINK, **SETTINGS, callback=lambda s, l, p: None, callback_every=25)
    assert rec.steps == SETTINGS["steps"]


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(optimizer=object()), TypeError, "optimizer must be an optax"),
    (dict(callback=3), TypeError, "callback must be callable"),
    (dict(callback_every=0), ValueError, "callback_every"),
    (dict(loss="l1"), ValueError, "loss must be one of"),
])
def test_bad_training_hooks_raise(kwargs, err, match):
    with pytest.raises(err, match=match):
        train.fit_mlp(KINK, **SETTINGS, **kwargs)


def test_default_grid_caps_the_samples_with_a_warning():
    for n in range(1, 9):
        s = train.default_samples_per_side(n)
        assert s**n <= train.MAX_DEFAULT_SAMPLES and (s == 32 or (s + 1) ** n > train.MAX_DEFAULT_SAMPLES)
    assert [train.default_samples_per_side(n) for n in (4, 5, 6)] == [32, 16, 10]
    with pytest.warns(UserWarning, match=r"16\^5 = 1,048,576 grid samples, not 32\^5 = 33,554,432"):
        assert train._samples_per_side(ma.targets.get("cone", n=5), None) == 16
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train._samples_per_side(ma.targets.get("cone", n=2), None) == 32
        assert train._samples_per_side(ma.targets.get("cone", n=5), 3) == 3  # the user's choice stands


def test_progress_bar_quiet_when_not_interactive(capsys, monkeypatch):
    from moe_approx import _progress

    settings = {**SETTINGS, "progress": None}
    train.fit_mlp(KINK, **settings)
    assert capsys.readouterr().err == ""  # pytest's stderr is no terminal
    monkeypatch.setattr(_progress, "default_progress", lambda progress: True)
    monkeypatch.setattr(train, "default_progress", lambda progress: True)
    train.fit_mlp(KINK, **settings)
    assert "fit_mlp" in capsys.readouterr().err
    from tqdm.auto import tqdm as auto

    assert train.tqdm is auto  # a widget in Jupyter, text in a terminal


def test_default_progress_rule(monkeypatch):
    from moe_approx._progress import default_progress

    assert default_progress(True) is True and default_progress(False) is False
    with pytest.raises(TypeError, match="progress must be"):
        default_progress("yes")
    monkeypatch.setattr(sys, "stderr", type("Tty", (), {"isatty": lambda self: True})())
    assert default_progress(None) is True
    monkeypatch.setattr(sys, "stderr", type("Pipe", (), {"isatty": lambda self: False})())
    assert default_progress(None) is False  # no terminal, no Jupyter kernel here
    shell = type("Shell", (), {"config": {"IPKernelApp": {}}})()  # what IPython reports inside a Jupyter kernel
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert default_progress(None) is True
    shell.config = {}  # a terminal IPython is no kernel
    assert default_progress(None) is False
