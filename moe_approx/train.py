"""Training MoMLPs and single MLPs with optax (the paper's "Algorithm 2: MoMLPs Training", as we read it).

``fit_moe`` trains one expert per cell on that cell's samples only, independently of the other
experts: each expert has its own loss, its own Adam state and its own normalisation, so the result
equals training the experts one after another (or on separate machines). They are trained together
only for speed: one ``jax.vmap`` over the stacked experts, and with several JAX devices the expert
axis is sharded across them. ``fit_mlp`` trains the single-network baseline with the same code.

Data (the project's reading of the paper's protocol): a :class:`HolderTarget` is sampled on the
s^n vertices of the regular grid on [0,1]^n, ``j/(s−1)`` (by default s = 32 while 32^n <= 2^20,
fewer in n >= 5, with a warning: :func:`default_samples_per_side`); a random ``test_fraction`` (20 %) of them
is held out for testing, the rest (80 %) is trained on. Or the user's arrays ``(X, y)`` with X in
[0,1]^n: y real (regression, mean squared error) or integer labels (``loss="cross_entropy"``).

Each expert sees its cell's inputs mapped to [−1, 1]^n and its targets standardised; both affine
maps are folded into the first and last layers afterwards, so the returned experts act on x
itself: the mixture is an ordinary :class:`MixtureOfExperts` (certify it, save it, count it).
Optimiser: full-batch Adam with a cosine-decayed learning rate, ``steps`` steps, or the user's
optax ``optimizer``; losses: mean squared error, a smooth maximum error, cross-entropy or a callable. Initialisation:
uniform ±1/√fan_in (weights and biases), PReLU slopes 0.25 (He et al. 2015), trained.
A cell without training samples gets the constant expert equal to the mean training target.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from ._checks import check_int, check_memory, check_points, check_positive
from ._progress import default_progress
from .mlp import MLP, check_activation, index_stack
from .moe import MixtureOfExperts, MixtureSizes

LOSSES = ("mse", "max", "l_inf-smooth", "cross_entropy")
CHUNKS = 20  # progress-bar updates per training run (the steps run as jitted scans between them)
MAX_DEFAULT_SAMPLES = 2**20  # the default grid keeps 32 samples per side while 32^n stays within this
SMOOTH_MAX_TAU = 0.05  # temperature of the smooth max loss, in each cell's standardised target units


@dataclass
class TrainRecord:
    """What a training run did: ``loss`` per step (training loss, in the targets' units: MSE, or mean
    cross-entropy), wall ``seconds``, ``steps``, training and test ``samples``, and the test metrics
    (``test_rmse``, ``test_max_error`` for regression; ``test_accuracy`` for classification)."""

    loss: np.ndarray = field(repr=False)
    seconds: float
    steps: int
    samples: int
    test_samples: int
    seed: int
    learning_rate: float
    experts: int
    test_rmse: float = float("nan")
    test_max_error: float = float("nan")
    test_accuracy: float = float("nan")
    test: tuple = field(default=(), repr=False)  # (X_test, y_test)

    @property
    def samples_per_second(self) -> float:
        """Training samples processed per second (steps × samples / seconds), compile time included."""
        return self.steps * self.samples / self.seconds


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True)
class VectorMixture(MixtureSizes):
    """A mixture of experts R^n -> R^k (k > 1: class scores), routed like MixtureOfExperts.

    ``fit_moe`` returns it for classification; evaluation gathers each point's expert (for test sets).
    """

    partition: object
    experts: MLP

    def tree_flatten(self):
        return (self.experts,), self.partition

    @classmethod
    def tree_unflatten(cls, partition, children):
        return cls(partition, children[0])

    def __call__(self, x):
        x = check_points(x, self.partition.n)
        ids = np.asarray(self.partition.locate(x))
        return np.asarray(_gather_apply(self.experts, jnp.asarray(x), jnp.asarray(ids)))



@jax.jit
def _gather_apply(experts: MLP, x, ids):
    h = x
    for l, (w, b) in enumerate(experts.layers):
        h = jnp.einsum("pi,pio->po", h, w[ids]) + b[ids]
        if l < len(experts.slopes):
            h = jnp.maximum(h, 0.0) + experts.slopes[l][ids] * jnp.minimum(h, 0.0)
    return h


# --- data ---------------------------------------------------------------------------------------
def grid_vertices(n: int, samples_per_side: int) -> np.ndarray:
    """The s^n vertices ``j/(s−1)`` of the regular grid on [0,1]^n, shape (s^n, n)."""
    s = check_int(samples_per_side, "samples_per_side", minimum=2)
    check_memory(8 * n * s**n, f"{s}^{n} grid samples")
    t = np.arange(s) / (s - 1)
    return np.stack(np.meshgrid(*([t] * n), indexing="ij"), axis=-1).reshape(-1, n)


def make_data(target_or_data, samples_per_side: int, test_fraction: float, seed: int, loss: str):
    """(X_train, y_train, X_test, y_test); y is (N, 1) float (mse) or (N,) int labels (cross_entropy)."""
    if hasattr(target_or_data, "fn") and hasattr(target_or_data, "alpha"):
        X = grid_vertices(target_or_data.n, samples_per_side)
        y = np.asarray(target_or_data(X), np.float64)
    elif isinstance(target_or_data, (tuple, list)) and len(target_or_data) == 2:
        X, y = np.asarray(target_or_data[0], np.float64), np.asarray(target_or_data[1])
        if X.ndim != 2:
            raise ValueError(f"data X must have shape (N, n), got {X.shape}")
        check_points(X, X.shape[1], "data X")
        if y.shape[:1] != X.shape[:1]:
            raise ValueError(f"data y must have one entry per row of X ({X.shape[0]}), got shape {y.shape}")
    else:
        raise TypeError(f"target_or_data must be a HolderTarget or a pair (X, y), got {type(target_or_data).__name__}")
    if loss == "cross_entropy":
        if y.ndim != 1 or not np.all(np.equal(np.mod(y, 1), 0)) or np.min(y) < 0:
            raise ValueError("labels y must be integers >= 0 of shape (N,) for loss='cross_entropy'")
        y = y.astype(np.int64)
    else:
        y = y.astype(np.float64).reshape(len(y), -1)
        if not np.all(np.isfinite(y)):
            raise ValueError("data y must be finite")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    if len(X) - n_test < 1:
        raise ValueError(f"no training samples left: {len(X)} samples, test_fraction={test_fraction}")
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


# --- vectorised training of L independent networks ------------------------------------------------
def _init_stack(seed, widths, activation, count):
    """Independent initialisations of ``count`` networks: uniform ±1/√fan_in weights and biases,
    PReLU slopes 0.25 (numpy's generator: cheap, deterministic, and float64 from the start)."""
    rng = np.random.default_rng([seed, 1])
    params = {"W": [], "b": []}
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        bound = 1.0 / np.sqrt(d_in)
        params["W"].append(rng.uniform(-bound, bound, (count, d_in, d_out)))
        params["b"].append(rng.uniform(-bound, bound, (count, d_out)))
    if activation == "prelu":
        params["a"] = [np.full((count, d), 0.25) for d in widths[1:-1]]
    return jax.tree_util.tree_map(jnp.asarray, params)


def _forward(params, z):
    h = z
    depth = len(params["W"])
    for l in range(depth):
        h = h @ params["W"][l] + params["b"][l]
        if l < depth - 1:
            a = params["a"][l] if "a" in params else 0.0
            h = jnp.maximum(h, 0.0) + a * jnp.minimum(h, 0.0)
    return h


def _loss(params, z, y, mask, kind):
    """One expert's loss on its cell's points (``mask`` marks the real ones among the padding)."""
    out = _forward(params, z)
    count = jnp.maximum(jnp.sum(mask), 1.0)
    if kind in ("max", "l_inf-smooth"):  # tau·log(mean exp(|e|/tau)): between the mean and the max of |e|
        err = jnp.max(jnp.abs(out - y), axis=-1) / SMOOTH_MAX_TAU
        top = jnp.max(jnp.where(mask > 0, err, 0.0))
        return SMOOTH_MAX_TAU * (top + jnp.log(jnp.sum(mask * jnp.exp(err - top)) / count))
    if kind == "mse":
        per_point = jnp.mean((out - y) ** 2, axis=-1)
    elif kind == "cross_entropy":
        per_point = optax.softmax_cross_entropy_with_integer_labels(out, y)
    else:  # the user's callable: per-point losses
        per_point = kind(out, y)
    return jnp.sum(mask * per_point) / count


@partial(jax.jit, static_argnames="optimiser")
def _init_state(params, optimiser):
    """Adam's state of every expert (one compiled program per optimiser and shape)."""
    return jax.vmap(optimiser.init)(params)


@partial(jax.jit, static_argnames=("optimiser", "kind", "length"))
def _run_chunk(params, state, z, y, mask, optimiser, kind, length):
    """``length`` Adam steps of every expert at once (vmap over the expert axis), as one scan."""

    def step(p, s, zl, yl, ml):
        value, grad = jax.value_and_grad(_loss)(p, zl, yl, ml, kind)
        updates, s = optimiser.update(grad, s, p)
        return optax.apply_updates(p, updates), s, value

    def body(carry, _):
        p, s = carry
        p, s, value = jax.vmap(step)(p, s, z, y, mask)
        return (p, s), value

    (params, state), losses = jax.lax.scan(body, (params, state), None, length=length)
    return params, state, losses


@lru_cache(maxsize=32)
def _optimiser(learning_rate: float, steps: int):
    """Adam with a cosine-decayed rate; cached so that ``_run_chunk`` compiles once per setting."""
    return optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.01))


def _shard(tree, count: int):
    """Put the leading (expert) axis of every array across the devices when there are several."""
    devices = jax.devices()
    if len(devices) < 2 or count % len(devices):
        return tree
    mesh = jax.sharding.Mesh(np.array(devices), ("experts",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("experts"))
    return jax.device_put(tree, sharding)


def _train_cells(X, y, cell, lo, hi, widths, activation, kind, steps, learning_rate, seed, progress, desc,
                 optimizer=None, callback=None, callback_every=None):
    """Train one network per cell on that cell's rows of (X, y); return (stack of MLPs, loss curve)."""
    L, n = lo.shape
    counts = np.bincount(cell, minlength=L)
    devices = jax.device_count()
    L_pad = L if devices < 2 else -(-L // devices) * devices  # whole shards; the padding experts see no data
    P = max(int(counts.max()), 1)
    k_out = widths[-1]
    check_memory(8 * L_pad * P * (n + max(widths) * 8 + k_out), f"training data of {L} experts x {P} samples")
    # rows grouped by cell: slot (cell, position)
    order = np.argsort(cell, kind="stable")
    pos = np.arange(len(cell)) - (np.cumsum(counts) - counts)[cell[order]]
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    Z = np.zeros((L_pad, P, n))
    Z[cell[order], pos] = (X[order] - centre[cell[order]]) / half[cell[order]]
    M = np.zeros((L_pad, P))
    M[cell[order], pos] = 1.0
    if kind != "cross_entropy":
        sums = np.zeros((L, k_out))
        np.add.at(sums, cell, y)
        mean = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], y.mean(0))
        sq = np.zeros((L, k_out))
        np.add.at(sq, cell, (y - mean[cell]) ** 2)
        std = np.sqrt(sq / np.maximum(counts, 1)[:, None])
        std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        Y = np.zeros((L_pad, P, k_out))
        Y[cell[order], pos] = (y[order] - mean[cell[order]]) / std[cell[order]]
        # per-expert MSE back to the targets' units; other losses: count-weighted, standardised units
        weight = counts * np.mean(std**2, axis=1) if kind == "mse" else counts.astype(np.float64)
    else:
        Y = np.zeros((L_pad, P), np.int64)
        Y[cell[order], pos] = y[order]
        weight = counts.astype(np.float64)
    params = _init_stack(seed, widths, activation, L_pad)
    optimiser = _optimiser(learning_rate, steps) if optimizer is None else optimizer
    params = _shard(params, L_pad)
    data = _shard((jnp.asarray(Z), jnp.asarray(Y), jnp.asarray(M)), L_pad)
    state = _init_state(params, optimiser)
    curve, done = [], 0
    every = callback_every or max(1, -(-steps // CHUNKS))
    sizes = [min(every, steps - i) for i in range(0, steps, every)]
    with tqdm(total=steps, desc=desc, unit="step", disable=not default_progress(progress), leave=False) as bar:
        for length in sizes:
            params, state, losses = _run_chunk(params, state, *data, optimiser, kind, length)
            curve.append(np.asarray(losses)[:, :L] @ weight / counts.sum())
            done += length
            bar.update(length)
            if callback is not None and callback(done, float(curve[-1][-1]), params) is True:
                break
    params = jax.tree_util.tree_map(lambda a: np.asarray(a)[:L], params)
    # fold z = (x − centre)/half into the first layer and the standardisation into the last
    W = [np.array(w) for w in params["W"]]
    b = [np.array(v) for v in params["b"]]
    b[0] = b[0] - np.einsum("li,lio->lo", centre / half, W[0])
    W[0] = W[0] / half[:, :, None]
    if kind != "cross_entropy":
        W[-1], b[-1] = W[-1] * std[:, None, :], b[-1] * std + mean
        empty = counts == 0
        W[-1][empty], b[-1][empty] = 0.0, y.mean(0)
    slopes = params["a"] if activation == "prelu" else [np.zeros((L, d)) for d in widths[1:-1]]
    net = MLP(tuple(zip(W, b)), tuple(np.asarray(a) for a in slopes), activation)
    return net, np.concatenate(curve)


def _check_common(width, depth, activation, steps, seed, learning_rate, loss):
    check_int(depth, "depth")
    if depth > 1:
        check_int(width, "width")
    check_activation(activation)
    check_int(steps, "steps")
    check_int(seed, "seed", minimum=0)
    check_positive(learning_rate, "learning_rate")
    if not callable(loss) and loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES} or a callable (pred, y) -> per-point losses, got {loss!r}")


def _check_hooks(optimizer, callback, callback_every):
    if optimizer is not None and not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer must be an optax GradientTransformation (init, update) or None, "
                        f"got {type(optimizer).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable (step, loss, params) or None, got {type(callback).__name__}")
    if callback_every is not None:
        check_int(callback_every, "callback_every")


def default_samples_per_side(n: int) -> int:
    """32 samples per side while the grid's 32^n vertices stay within :data:`MAX_DEFAULT_SAMPLES`
    (n <= 4), else the largest s with s^n within it (16 at n = 5, 10 at n = 6; at least 2)."""
    s = 32
    while s > 2 and s**n > MAX_DEFAULT_SAMPLES:
        s -= 1
    return s


def _samples_per_side(target_or_data, samples_per_side):
    """The grid size to sample a target on: the user's, or the default, with a warning when it was capped."""
    if samples_per_side is not None or not hasattr(target_or_data, "n"):
        return samples_per_side
    s = default_samples_per_side(target_or_data.n)
    if s < 32:
        warnings.warn(f"samples_per_side defaults to {s} in n = {target_or_data.n} ({s}^{target_or_data.n} = "
                      f"{s**target_or_data.n:,} grid samples, not 32^{target_or_data.n} = {32**target_or_data.n:,}); "
                      "pass samples_per_side to choose", UserWarning, stacklevel=4)
    return s


def _widths(n, width, depth, out):
    return (n,) + (width,) * (depth - 1) + (out,)


def _fit(target_or_data, partition, width, depth, activation, samples_per_side, steps, seed, learning_rate,
         test_fraction, loss, progress, desc, optimizer, callback, callback_every):
    _check_common(width, depth, activation, steps, seed, learning_rate, loss)
    _check_hooks(optimizer, callback, callback_every)
    samples_per_side = _samples_per_side(target_or_data, samples_per_side)
    Xtr, ytr, Xte, yte = make_data(target_or_data, samples_per_side, test_fraction, seed, loss)
    n = Xtr.shape[1]
    if partition is not None and partition.n != n:
        raise ValueError(f"partition is on n={partition.n} but the data on n={n}")
    out = int(max(ytr.max(), yte.max(initial=0))) + 1 if loss == "cross_entropy" else ytr.shape[1]
    if partition is None:
        lo, hi, cell = np.zeros((1, n)), np.ones((1, n)), np.zeros(len(Xtr), np.int64)
    else:
        lo, hi = partition.all_bounds()
        cell = np.asarray(partition.locate(Xtr)).astype(np.int64)
    start = time.perf_counter()
    net, curve = _train_cells(Xtr, ytr, cell, np.asarray(lo, np.float64), np.asarray(hi, np.float64),
                              _widths(n, width, depth, out), activation, loss, steps, learning_rate,
                              seed, progress, desc, optimizer, callback, callback_every)
    seconds = time.perf_counter() - start
    record = TrainRecord(curve, seconds, len(curve), len(Xtr), len(Xte), seed, float(learning_rate),
                         1 if partition is None else partition.num_cells, test=(Xte, yte))
    return net, record, out


def _evaluate(record, predict, loss):
    Xte, yte = record.test
    if not len(Xte):
        return record
    pred = np.asarray(predict(Xte))
    if loss == "cross_entropy":
        record.test_accuracy = float(np.mean(np.argmax(pred, axis=-1) == yte))
    else:
        err = pred.reshape(len(Xte), -1) - yte
        record.test_rmse, record.test_max_error = float(np.sqrt(np.mean(err**2))), float(np.max(np.abs(err)))
    return record


_SHARED_PARAMETERS = """width, depth : int
        Hidden width and number of affine maps of each network (depth 1: affine).
    activation : {"relu", "prelu"}
    samples_per_side : int or None
        A target is sampled on the s^n vertices of the regular grid; ``None`` (default): 32 per
        side while 32^n <= 2^20 (n <= 4), fewer beyond (:func:`default_samples_per_side`, with a
        warning that says the grid). Ignored for data ``(X, y)``.
    steps : int
        Optimiser steps (full batch).
    seed : int
        Seeds the train/test split and the initialisation.
    learning_rate : float
        Peak rate of the default optimiser (Adam, cosine decay to 1 %); unused with ``optimizer``.
    test_fraction : float
        Held-out share of the samples, in [0, 1).
    loss : {"mse", "max", "l_inf-smooth", "cross_entropy"} or callable
        ``"mse"``; ``"max"`` (alias ``"l_inf-smooth"``): a smooth maximum of |error| over the
        cell's points, tau·log(mean exp(|e|/tau)) with tau = :data:`SMOOTH_MAX_TAU`, between the
        mean and the max of |e| (within tau·log N of the max); ``"cross_entropy"`` for integer
        labels; or ``loss(pred, y) -> (P,)`` per-point losses (jax-traceable), pred and y of shape
        (P, k) in each cell's standardised target units (mean 0, standard deviation 1).
    optimizer : optax.GradientTransformation or None
        Replaces the default Adam with cosine decay; every expert gets its own state.
    callback : callable or None
        ``callback(step, loss, params)`` after every ``callback_every`` steps: ``loss`` the training
        loss of :attr:`TrainRecord.loss` at that step, ``params`` the stacked raw parameters
        (dict ``W``, ``b``, ``a``; leading expert axis; inputs in each cell's [-1, 1]^n and
        standardised targets). Returning ``True`` stops training there.
    callback_every : int or None
        Steps between callbacks (and progress updates); ``None``: steps/20.
    progress : bool or None
        A tqdm bar (tqdm.auto: a widget in Jupyter); ``None`` (default): shown only when stderr is
        a terminal or in a Jupyter kernel.

    Raises
    ------
    ValueError, TypeError
        For a bad size, loss, optimizer or callback, naming the argument."""


def fit_moe(target_or_data, partition, width: int, depth: int, activation: str = "relu", samples_per_side=None,
            steps: int = 2000, seed: int = 0, *, learning_rate: float = 1e-2, test_fraction: float = 0.2,
            loss="mse", progress=None, optimizer=None, callback=None, callback_every=None):
    """Train one expert MLP (``depth`` affine maps, hidden width ``width``) per cell of ``partition``.

    Each expert sees only its cell's samples and has its own loss and optimiser state (module
    docstring; docs/theory.md §2 for the mixture). Deterministic for a ``seed`` on a given machine.

    Parameters
    ----------
    target_or_data : HolderTarget or (X, y)
        A target sampled on a grid, or arrays X (N, n) in [0, 1]^n and y (N,) or (N, k).
    partition : GridPartition, DyadicPartition or PrototypePartition
    {shared}

    Returns
    -------
    mixture : MixtureOfExperts or VectorMixture
        ``MixtureOfExperts`` for scalar regression, ``VectorMixture`` for vector targets and classes.
    record : TrainRecord
        Loss curve (one value per step run), timings and test metrics.

    Examples
    --------
    >>> import moe_approx as ma
    >>> f = ma.targets.get("kink", n=1)
    >>> moe, rec = ma.train.fit_moe(f, ma.GridPartition(1, 2), width=4, depth=2, steps=20, progress=False)
    >>> moe.num_experts, rec.steps
    (2, 20)
    """
    if not all(hasattr(partition, a) for a in ("n", "num_cells", "locate", "all_bounds")):
        raise TypeError(f"partition must be a GridPartition, DyadicPartition or PrototypePartition, "
                        f"got {type(partition).__name__}")
    net, record, out = _fit(target_or_data, partition, width, depth, activation, samples_per_side, steps, seed,
                            learning_rate, test_fraction, loss, progress, f"fit_moe ({partition.num_cells} experts)",
                            optimizer, callback, callback_every)
    if out == 1:
        mixture = MixtureOfExperts(partition, net, "trained", {"width": width, "depth": depth})
        predict = mixture
    else:
        mixture = predict = VectorMixture(partition, net)
    return mixture, _evaluate(record, predict, loss)


def fit_mlp(target_or_data, width: int, depth: int, activation: str = "relu", samples_per_side=None,
            steps: int = 2000, seed: int = 0, *, learning_rate: float = 1e-2, test_fraction: float = 0.2,
            loss="mse", progress=None, optimizer=None, callback=None, callback_every=None):
    """Train one MLP on all the data (the single-network baseline); same settings as :func:`fit_moe`.

    Parameters
    ----------
    target_or_data : HolderTarget or (X, y)
        A target sampled on a grid, or arrays X (N, n) in [0, 1]^n and y (N,) or (N, k).
    {shared}

    Returns
    -------
    mlp : MLP
        Its output has shape (..., k), k = 1 for a scalar target; certify a scalar one with
        ``sup_error(target, mlp)``.
    record : TrainRecord
    """
    net, record, _ = _fit(target_or_data, None, width, depth, activation, samples_per_side, steps, seed,
                          learning_rate, test_fraction, loss, progress, "fit_mlp", optimizer, callback, callback_every)
    mlp = index_stack(net, 0)
    return mlp, _evaluate(record, lambda x: mlp(jnp.asarray(x)), loss)


fit_moe.__doc__ = fit_moe.__doc__.replace("{shared}", _SHARED_PARAMETERS)
fit_mlp.__doc__ = fit_mlp.__doc__.replace("{shared}", _SHARED_PARAMETERS)


def mlp_params(n: int, width: int, depth: int, activation: str = "relu", out: int = 1) -> int:
    """Stored parameters of an MLP R^n -> R^out with ``depth`` affine maps of hidden width ``width`` (docs/theory.md §2)."""
    d = _widths(n, width, depth, out)
    count = sum(a * b + b for a, b in zip(d[:-1], d[1:]))
    return count + (sum(d[1:-1]) if activation == "prelu" else 0)


def matching_width(params: int, n: int, depth: int, activation: str = "relu", out: int = 1) -> int:
    """The hidden width whose MLP (``depth`` >= 2 affine maps) has stored parameters closest to ``params``."""
    check_int(depth, "depth", minimum=2)
    width = 1
    while mlp_params(n, width + 1, depth, activation, out) <= params:
        width += 1
    above = width + 1
    return min((width, above), key=lambda w: abs(mlp_params(n, w, depth, activation, out) - params))
