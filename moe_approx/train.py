"""Training MoMLPs and single MLPs with optax (the paper's "Algorithm 2: MoMLPs Training", as we read it).

``fit_moe`` trains one expert per cell on that cell's samples only, independently of the other
experts: each expert has its own loss, its own Adam state and its own normalisation, so the result
equals training the experts one after another (or on separate machines). They are trained together
only for speed: one ``jax.vmap`` over the stacked experts, and with several JAX devices the expert
axis is sharded across them. ``fit_mlp`` trains the single-network baseline with the same code.

Data (the project's reading of the paper's protocol): a :class:`HolderTarget` is sampled on the
s^n vertices of the regular grid on [0,1]^n, ``j/(s−1)``; a random ``test_fraction`` (20 %) of them
is held out for testing, the rest (80 %) is trained on. Or the user's arrays ``(X, y)`` with X in
[0,1]^n: y real (regression, mean squared error) or integer labels (``loss="cross_entropy"``).

Each expert sees its cell's inputs mapped to [−1, 1]^n and its targets standardised; both affine
maps are folded into the first and last layers afterwards, so the returned experts act on x
itself: the mixture is an ordinary :class:`MixtureOfExperts` (certify it, save it, count it).
Optimiser: full-batch Adam with a cosine-decayed learning rate, ``steps`` steps. Initialisation:
uniform ±1/√fan_in (weights and biases), PReLU slopes 0.25 (He et al. 2015), trained.
A cell without training samples gets the constant expert equal to the mean training target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from ._checks import check_int, check_memory, check_points, check_positive
from .mlp import MLP, check_activation, index_stack
from .moe import MixtureOfExperts, MixtureSizes

LOSSES = ("mse", "cross_entropy")
CHUNKS = 20  # progress-bar updates per training run (the steps run as jitted scans between them)


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
    out = _forward(params, z)
    if kind == "mse":
        per_point = jnp.mean((out - y) ** 2, axis=-1)
    else:
        per_point = optax.softmax_cross_entropy_with_integer_labels(out, y)
    return jnp.sum(mask * per_point) / jnp.maximum(jnp.sum(mask), 1.0)


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


def _train_cells(X, y, cell, lo, hi, widths, activation, kind, steps, learning_rate, seed, progress, desc):
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
    if kind == "mse":
        sums = np.zeros((L, k_out))
        np.add.at(sums, cell, y)
        mean = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], y.mean(0))
        sq = np.zeros((L, k_out))
        np.add.at(sq, cell, (y - mean[cell]) ** 2)
        std = np.sqrt(sq / np.maximum(counts, 1)[:, None])
        std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        Y = np.zeros((L_pad, P, k_out))
        Y[cell[order], pos] = (y[order] - mean[cell[order]]) / std[cell[order]]
        weight = counts * np.mean(std**2, axis=1)  # per-expert losses back to the targets' units
    else:
        Y = np.zeros((L_pad, P), np.int64)
        Y[cell[order], pos] = y[order]
        weight = counts.astype(np.float64)
    params = _init_stack(seed, widths, activation, L_pad)
    optimiser = _optimiser(learning_rate, steps)
    params = _shard(params, L_pad)
    data = _shard((jnp.asarray(Z), jnp.asarray(Y), jnp.asarray(M)), L_pad)
    state = _init_state(params, optimiser)
    curve = []
    sizes = [len(c) for c in np.array_split(np.arange(steps), min(CHUNKS, steps))]
    with tqdm(total=steps, desc=desc, unit="step", disable=None if progress is None else not progress,
              leave=False) as bar:
        for length in sizes:
            params, state, losses = _run_chunk(params, state, *data, optimiser, kind, length)
            curve.append(np.asarray(losses)[:, :L] @ weight / counts.sum())
            bar.update(length)
    params = jax.tree_util.tree_map(lambda a: np.asarray(a)[:L], params)
    # fold z = (x − centre)/half into the first layer and the standardisation into the last
    W = [np.array(w) for w in params["W"]]
    b = [np.array(v) for v in params["b"]]
    b[0] = b[0] - np.einsum("li,lio->lo", centre / half, W[0])
    W[0] = W[0] / half[:, :, None]
    if kind == "mse":
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
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def _widths(n, width, depth, out):
    return (n,) + (width,) * (depth - 1) + (out,)


def _fit(target_or_data, partition, width, depth, activation, samples_per_side, steps, seed, learning_rate,
         test_fraction, loss, progress, desc):
    _check_common(width, depth, activation, steps, seed, learning_rate, loss)
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
                              seed, progress, desc)
    seconds = time.perf_counter() - start
    record = TrainRecord(curve, seconds, steps, len(Xtr), len(Xte), seed, float(learning_rate),
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


def fit_moe(target_or_data, partition, width: int, depth: int, activation: str = "relu", samples_per_side: int = 32,
            steps: int = 2000, seed: int = 0, *, learning_rate: float = 1e-2, test_fraction: float = 0.2,
            loss: str = "mse", progress=None):
    """Train one expert MLP (``depth`` affine maps, hidden width ``width``) per cell of ``partition``.

    Each expert is fitted on its own cell's training samples only (module docstring); the result is
    deterministic for a ``seed`` (split and initialisation) on a given machine. A trained mixture
    carries no certificate: bound its error with :func:`~moe_approx.sup_error`.

    Parameters
    ----------
    target_or_data : HolderTarget or tuple (X, y)
        A target, sampled on the s^n vertices of the regular grid (s = ``samples_per_side``), or
        data: X of shape (N, n) in [0,1]^n and y of shape (N,) or (N, k) (regression) or integer
        labels of shape (N,) (``loss="cross_entropy"``).
    partition : GridPartition, DyadicPartition or PrototypePartition
        The cells, one expert each, on the data's n.
    width : int
        Hidden width of every expert, >= 1 (unused when ``depth`` is 1).
    depth : int
        Affine maps per expert, >= 1 (``depth`` − 1 hidden layers).
    activation : {"relu", "prelu"}, default "relu"
        PReLU slopes are trained, starting at 0.25.
    samples_per_side : int, default 32
        s, for a target: s^n samples in all (32^n grows fast with n); unused for data.
    steps : int, default 2000
        Full-batch Adam steps (cosine-decayed learning rate).
    seed : int, default 0
        Seed of the train/test split and of the initialisation.
    learning_rate : float, default 1e-2
        Initial learning rate, > 0.
    test_fraction : float, default 0.2
        Share of the samples held out for the test metrics, in [0, 1).
    loss : {"mse", "cross_entropy"}, default "mse"
        Mean squared error (regression) or cross-entropy on class scores (classification).
    progress : bool or None, default None
        A tqdm bar over the steps; None shows it only where tqdm sees an interactive output.

    Returns
    -------
    mixture : MixtureOfExperts or VectorMixture
        A :class:`~moe_approx.MixtureOfExperts` of family ``"trained"`` for scalar regression,
        else a :class:`VectorMixture` (vector outputs or class scores).
    record : TrainRecord
        The loss per step, the timing and the test metrics.

    Raises
    ------
    TypeError
        If ``partition`` is not a partition, or ``target_or_data`` neither a target nor (X, y).
    ValueError
        For sizes, seeds, rates or fractions out of range, data outside [0,1]^n, non-integer
        labels, or a partition on another n than the data.

    Examples
    --------
    Four ReLU experts, one per quarter of [0, 1], fitted to the kink target:

    >>> import moe_approx as ma
    >>> from moe_approx.train import fit_moe
    >>> f = ma.targets.get("kink", n=1)
    >>> moe, record = fit_moe(f, ma.GridPartition(1, 4), width=8, depth=2, samples_per_side=65,
    ...                       steps=200, progress=False)
    >>> moe.num_experts, moe.expert_depth, moe.expert_width
    (4, 2, 8)
    >>> record.samples, record.test_samples, record.loss.shape  # 65 samples, 20 % held out
    (52, 13, (200,))
    >>> bool(record.loss[-1] < record.loss[0])
    True
    """
    if not all(hasattr(partition, a) for a in ("n", "num_cells", "locate", "all_bounds")):
        raise TypeError(f"partition must be a GridPartition, DyadicPartition or PrototypePartition, "
                        f"got {type(partition).__name__}")
    net, record, out = _fit(target_or_data, partition, width, depth, activation, samples_per_side, steps, seed,
                            learning_rate, test_fraction, loss, progress, f"fit_moe ({partition.num_cells} experts)")
    if out == 1:
        mixture = MixtureOfExperts(partition, net, "trained", {"width": width, "depth": depth})
        predict = mixture
    else:
        mixture = predict = VectorMixture(partition, net)
    return mixture, _evaluate(record, predict, loss)


def fit_mlp(target_or_data, width: int, depth: int, activation: str = "relu", samples_per_side: int = 32,
            steps: int = 2000, seed: int = 0, *, learning_rate: float = 1e-2, test_fraction: float = 0.2,
            loss: str = "mse", progress=None):
    """Train one MLP on all the data (the single-network baseline); same settings as :func:`fit_moe`.

    Parameters
    ----------
    target_or_data : HolderTarget or tuple (X, y)
        As in :func:`fit_moe`.
    width, depth : int
        Hidden width (>= 1) and number of affine maps (>= 1) of the network.
    activation, samples_per_side, steps, seed, learning_rate, test_fraction, loss, progress
        As in :func:`fit_moe`.

    Returns
    -------
    mlp : MLP
        The trained network R^n -> R^k (k = 1 for scalar regression, one output per class).
        Certify a scalar one with ``sup_error(target, as_mixture(mlp))``.
    record : TrainRecord
        The loss per step, the timing and the test metrics (``experts`` is 1).

    Raises
    ------
    TypeError, ValueError
        As in :func:`fit_moe`.

    Examples
    --------
    >>> import moe_approx as ma
    >>> from moe_approx.train import fit_mlp
    >>> mlp, record = fit_mlp(ma.targets.get("kink", n=1), width=8, depth=3, samples_per_side=65,
    ...                       steps=200, progress=False)
    >>> mlp.widths, record.experts
    ((1, 8, 8, 1), 1)
    >>> ma.as_mixture(mlp).num_experts
    1
    """
    net, record, _ = _fit(target_or_data, None, width, depth, activation, samples_per_side, steps, seed,
                          learning_rate, test_fraction, loss, progress, "fit_mlp")
    mlp = index_stack(net, 0)
    return mlp, _evaluate(record, lambda x: mlp(jnp.asarray(x)), loss)


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
