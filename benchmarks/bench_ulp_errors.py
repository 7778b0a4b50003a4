"""Largest error, in ulps, of XLA's float64 elementary functions against arb at 200 bits.

Justifies moe_approx.intervals.TRANSCENDENTAL_ULPS (docs/theory.md §9): the widening must exceed
every error seen here on the device in use. Run it on each new backend (CPU, GPU).
"""

import argparse

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
from flint import arb, ctx

import moe_approx.intervals as iv


def cases(rng, m):
    logu = lambda lo, hi: 10.0 ** rng.uniform(lo, hi, m)  # noqa: E731
    return {
        "exp": (jnp.exp, arb.exp, np.concatenate([rng.uniform(-700, 700, m), rng.uniform(-1, 1, m)])),
        "log": (jnp.log, arb.log, np.concatenate([logu(-300, 300), 1 + rng.uniform(-1e-3, 1e-3, m)])),
        "sin": (jnp.sin, arb.sin, np.concatenate([rng.uniform(-100, 100, m), np.pi * np.arange(-50, 50.0)])),
        "cos": (jnp.cos, arb.cos, np.concatenate([rng.uniform(-100, 100, m), np.pi * (np.arange(-50, 50) + 0.5)])),
        "tan": (jnp.tan, arb.tan, rng.uniform(-100, 100, m)),
        "tanh": (jnp.tanh, arb.tanh, np.concatenate([rng.uniform(-25, 25, m), logu(-300, 0)])),
        "arctan": (jnp.arctan, arb.atan, np.concatenate([rng.uniform(-100, 100, m), logu(-300, 300)])),
        "erf": (jsp.erf, arb.erf, np.concatenate([rng.uniform(-7, 7, m), logu(-300, 0)])),
        "cbrt": (jnp.cbrt, lambda a: a.root(3), logu(-300, 300)),
        "x^0.75": (lambda x: jnp.power(x, 0.75), lambda a: a ** arb(0.75), logu(-300, 300)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=10_000, help="random points per range")
    args = parser.parse_args()
    ctx.prec = 200
    rng = np.random.default_rng(0)
    print(f"device: {jax.devices()[0].platform}; allowance TRANSCENDENTAL_ULPS = {iv.TRANSCENDENTAL_ULPS}")
    print(f"{'function':8s} {'points':>7s} {'max ulps':>9s}  worst x")
    for name, (jf, af, xs) in cases(rng, args.points).items():
        got = np.asarray(jax.jit(jf)(jnp.asarray(xs)))
        exact = np.array([float(af(arb(float(x))).mid()) for x in xs])
        normal = np.abs(exact) >= np.finfo(float).tiny  # subnormal results are flushed: TINY covers them
        err = np.abs(got - exact)[normal] / np.spacing(np.abs(exact[normal]))
        i = int(np.argmax(err))
        print(f"{name:8s} {normal.sum():7d} {err[i]:9.3g}  {xs[normal][i]!r}")


if __name__ == "__main__":
    main()
