"""Evaluation throughput of a MoE (n = 2, 4096 experts of width 32, depth 3) against baselines.

(a) one expert of the same size on the same number of points, no routing;
(b) a naive evaluation that gathers each point's expert weights.
Goal (issue 2): MoE >= 0.8 x (a) and >= 5 x (b). Ratios come from one run on one machine.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import moe_approx as ma
from _timing import best_time
from moe_approx.moe import MixtureOfExperts, _apply_stack


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=2**20)
    parser.add_argument("--cells-per-side", type=int, default=64)
    parser.add_argument("--width", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    part = ma.GridPartition(2, args.cells_per_side)
    L, w = part.num_cells, args.width
    layers = ((rng.standard_normal((L, 2, w)), rng.standard_normal((L, w))),
              (rng.standard_normal((L, w, w)) / np.sqrt(w), rng.standard_normal((L, w))),
              (rng.standard_normal((L, w, 1)) / np.sqrt(w), rng.standard_normal((L, 1))))
    moe = MixtureOfExperts(part, ma.MLP(layers, (np.zeros((L, w)), np.zeros((L, w)))))
    single = ma.mlp.index_stack(moe.experts, 0)
    x = rng.random((args.points, 2))
    xj = jnp.asarray(x)
    one = jax.jit(lambda net, z: net(z)[:, 0])
    naive = jax.jit(lambda z: moe.apply_per_point(z))
    grouped = ma.supnorm.cell_grid(*part.all_bounds(), int(np.sqrt(args.points // L)))

    t_moe = best_time(lambda: moe(x), repeats=5)
    t_grouped = best_time(lambda: moe.apply_blocked(grouped))
    t_one_plain = best_time(lambda: one(single, xj))
    P = grouped.shape[1]
    same_expert = ma.mlp.index_stack(moe.experts, np.zeros(N_chunks := args.points // P, dtype=int))
    x_rows = x[: N_chunks * P].reshape(N_chunks, P, 2)
    t_one_chunked = best_time(lambda: _apply_stack(same_expert, x_rows)) * args.points / (N_chunks * P)
    t_one = min(t_one_plain, t_one_chunked)
    t_naive = best_time(lambda: naive(xj), repeats=2)
    N = args.points
    print(f"device: {jax.devices()[0].platform}, points: {N}, experts: {L}, width {w}, depth 3, float64")
    print(f"MoE __call__ (routing + dispatch + blocked matmuls): {N / t_moe:12.4g} points/s")
    print(f"MoE on points already grouped by cell (apply_blocked): {grouped.shape[0] * grouped.shape[1] / t_grouped:12.4g} points/s")
    print(f"(a) one expert, no routing, plain MLP call:          {N / t_one_plain:12.4g} points/s")
    print(f"(a) one expert, no routing, same chunked kernel:     {N / t_one_chunked:12.4g} points/s")
    print(f"(b) naive per-point weight gather:                   {N / t_naive:12.4g} points/s")
    print(f"ratio MoE/(a) = {t_one / t_moe:.2f}  (goal >= 0.8; (a) = the faster of the two);"
          f"  grouped/(a) = {t_one / t_grouped * grouped.size / 2 / N:.2f}")
    print(f"ratio MoE/(b) = {t_naive / t_moe:.2f}  (goal >= 5)")


if __name__ == "__main__":
    main()
