"""The ascent behind the local search of :mod:`moe_approx.assumptions` (docs/theory.md §5).

Sign-gradient ascent with backtracking, vectorised over starts, on two objectives: log ‖∇f(x)‖_1
over points, and log max_c |a_c(p) − a_c(q)| − exponent·log ‖p − q‖_∞ over pairs (a = f, or a = ∇f
for the derivative constant), each point or pair kept in its cell. A step is one call of three
jitted functions: :func:`_propose` and :func:`_accept` do not depend on the target (compiled once
per shape) and :func:`_jet` (f, ∇f and a Hessian-vector product) is the only part compiled for
each target.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ._config import kernel_jit


FIRST_STEP = 8.0  # the first step of an ascent: a change of about this much in the log objective


def _signed(grad, size, cap):
    """Steepest ascent step in ‖·‖_∞: sign(grad) times size/‖grad‖_1 (a change of about ``size`` in
    the log objective: scale-free, so the distance to a power-law singularity shrinks
    geometrically), at most ``cap``."""
    norm = jnp.sum(jnp.abs(grad), axis=1, keepdims=True)
    return jnp.minimum(size / jnp.where(norm > 0, norm, 1.0), cap) * jnp.sign(grad)


def _jet(fn, x, v):
    """f(x), ∇f(x) and the Hessian-vector product H(x)·v at points x (N, n): one forward-over-reverse
    pass of JAX autodiff (the only part of the search compiled for each target)."""
    def one(x, v):
        (f, g), (_, hv) = jax.jvp(jax.value_and_grad(fn), (x,), (v,))
        return f, g, hv

    return jax.vmap(one)(x, v)


@kernel_jit
def _propose(z, grad, size, lo, hi, pair, j):
    """The candidates of a step (module doc): points move by :func:`_signed`; a pair p = z[:S],
    q = z[S:] moves as a whole (j = 0) or changes its difference (j = 1, each end by at most 3/8 of
    the distance), all projected onto the cells [lo, hi]."""
    S = z.shape[0] // 2
    width = jnp.max(hi - lo, axis=1, keepdims=True)
    sizes = jnp.where(j == 0, size[:, :1], size[:, 1:])
    p, q, sign = z[:S], z[S:], 1 - 2 * j
    cap = jnp.where(j == 0, width[:S], 0.375 * jnp.max(jnp.abs(p - q), axis=1, keepdims=True))
    step = _signed(grad[:S] + sign * grad[S:], sizes[:S], cap)
    return jnp.clip(jnp.where(pair, jnp.concatenate([p + step, q + sign * step]), z + _signed(grad, sizes, width)),
                    lo, hi)


@kernel_jit
def _accept(cand, f, g, hv, z, v, val, grad, size, lo, hi, shortest, exponent, order, pair, j):
    """Keep each candidate that raises its objective (its size j doubles) or undo it (halved).

    Points (``pair`` False): log ‖∇f‖_1, gradient H·v/‖∇f‖_1 with v = sign ∇f of the current point.
    Pairs: log max_c |a_c(p) − a_c(q)| − exponent·log ‖p − q‖_∞, −inf below ``shortest`` times the
    cell's width, with
    a = f (``order`` 0) or ∇f (order 1: the gradient of a_c is H·e_c, so v = e_c)."""
    S, n = z.shape[0] // 2, z.shape[1]
    norm = jnp.sum(jnp.abs(g), axis=1, keepdims=True)
    point = (jnp.log(norm[:, 0]), hv / norm, jnp.sign(g))
    a = jnp.where(order == 0, jnp.broadcast_to(f[:, None], g.shape), g)
    da = jnp.where(order == 0, g, hv)
    delta, rows = a[:S] - a[S:], jnp.arange(S)
    c = jnp.argmax(jnp.nan_to_num(jnp.abs(delta)), axis=1)
    change = delta[rows, jnp.where(order == 0, c, jnp.argmax(jnp.abs(v[:S]), axis=1))][:, None]
    diff = cand[:S] - cand[S:]
    k = jnp.argmax(jnp.abs(diff), axis=1)
    dist = jnp.abs(diff[rows, k])
    value = jnp.where(dist >= shortest * jnp.max(hi[:S] - lo[:S], axis=1),
                      jnp.log(jnp.abs(delta[rows, c])) - exponent * jnp.log(dist), -jnp.inf)
    towards = jax.nn.one_hot(k, n) * (exponent * jnp.sign(diff[rows, k]) / dist)[:, None]
    slope = jnp.sign(change) / jnp.abs(change)
    gp, gq = slope * da[:S] - towards, -slope * da[S:] + towards
    new_v = jnp.tile(jax.nn.one_hot(c, n) * (order > 0), (2, 1))
    pairs = (jnp.concatenate([value, value]), jnp.concatenate([gp, gq]), new_v)
    new_val, new_grad, new_v = (jnp.where(pair, b, a) for a, b in zip(point, pairs))
    ok = new_val > val  # False where NaN
    z, v, val = jnp.where(ok[:, None], cand, z), jnp.where(ok[:, None], new_v, v), jnp.where(ok, new_val, val)
    grad = jnp.where(ok[:, None], jnp.nan_to_num(new_grad, posinf=0.0, neginf=0.0), grad)
    size = size * jnp.where(jnp.arange(2) == j, jnp.where(ok, 2.0, 0.5)[:, None], 1.0)
    return z, v, val, grad, size


_jet_jit = partial(kernel_jit, static_argnums=0)(_jet)


def climb(fn, z, lo, hi, shortest: float, exponent: float, order: int, pair: bool, steps: int):
    """``steps`` backtracking steps (:func:`_propose`, :func:`_jet`, :func:`_accept`, each one jitted
    call on every start) from z (2S, n) in cells [lo, hi] (2S, n), after two that only evaluate;
    returns the final z and v. Each half is padded to a power of two (one compilation per target
    and bucket; an unhashable fn is traced each time)."""
    try:
        hash(fn)
        jet = partial(_jet_jit, fn)
    except TypeError:
        jet = kernel_jit(partial(_jet, fn))
    S = z.shape[0] // 2
    B = max(32, 1 << (S - 1).bit_length())
    pad = np.r_[np.arange(S), np.zeros(B - S, int)]
    pad = np.r_[pad, pad + S]
    # device_put of float64 numpy: no eager op compiles, and the same argument types as the steps' outputs
    z, lo, hi = jax.device_put([np.asarray(a[pad], np.float64) for a in (z, lo, hi)])
    v, grad, val = jax.device_put([np.zeros(z.shape), np.zeros(z.shape), np.full(2 * B, -np.inf)])  # (not weak-typed:
    consts = (lo, hi, shortest, exponent, order, pair)
    for i in range(-2, steps):  # two steps of size 0 only evaluate: f, ∇f, then H·v with v from the first
        j = 0 if i < 0 or not pair else i % 2
        if i == 0:
            size = jax.device_put(np.full((2 * B, 2), FIRST_STEP))  # a weak type would compile every step again)
        elif i < 0:
            val, size = jax.device_put([np.full(2 * B, -np.inf), np.zeros((2 * B, 2))])
        cand = _propose(z, grad, size, lo, hi, pair, j)
        z, v, val, grad, size = _accept(cand, *jet(cand, v), z, v, val, grad, size, *consts, j)
    keep = np.r_[np.arange(S), B + np.arange(S)]
    return np.asarray(z)[keep], np.asarray(v)[keep]
