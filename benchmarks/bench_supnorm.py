"""Certified sup-norm: branch and bound against the uniform Hölder grid (issue 4).

A CPwL MoE (n = 2, 1024 experts) of a Lipschitz target, certified to rtol = 1e-3. Baseline: the
uniform grid that the plain Hölder argument needs for the same certificate: with box radius δ/2
around each grid point, sup|f − Φ| <= max sampled + (C + Lip Φ_l)·δ/2, so δ = 2·rtol·lower/(C + Lip Φ)
per cell. Lip Φ_l = max ‖∇Φ_l‖_1 is estimated from sampled gradients (an underestimate, which
favours the baseline). Its time is its point count over the grid evaluation throughput measured
here (evaluating ~1e10 points is out of reach, which is the point). Also printed: evaluator
throughput (boxes/s) and its float64 flop rate against a dense float64 matmul timed in this run.
Goal: >= 10x fewer evaluations than the uniform grid.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import moe_approx as ma
from _timing import best_time
from moe_approx.supnorm import _expert_kernel, cell_grid


def matmul_rate(size=2048):
    a = jnp.asarray(np.random.default_rng(0).standard_normal((size, size)))
    mm = jax.jit(lambda x: x @ x)
    return 2 * size**3 / best_time(lambda: mm(a))


def expert_lipschitz(moe, per_side=16):
    """max over cells and sampled points of ‖∇Φ_l‖_1 (a lower estimate of each expert's ∞-norm Lipschitz constant)."""
    lo, hi = moe.partition.all_bounds()
    x = jnp.asarray(cell_grid(lo, hi, per_side))
    grad = jax.grad(lambda z: jnp.sum(moe.apply_blocked(z)))(x)
    return np.asarray(jnp.max(jnp.sum(jnp.abs(grad), -1), axis=1))  # (L,)


def kernel_flops_per_box(moe):
    """Multiply-adds x 2 of the expert kernel per box: n + 2 rows through W, 3 through |W|, 1 backward."""
    d = moe.experts.widths
    return sum(2 * a * b * (moe.n + 6) for a, b in zip(d[:-1], d[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", default="linf_distance")
    parser.add_argument("--cells-per-side", type=int, default=32)
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--max-evals", type=int, default=2**24)
    args = parser.parse_args()
    f = ma.targets.get(args.target, n=2)
    moe = ma.build_moe(f, ma.GridPartition(2, args.cells_per_side), expert="cpwl")
    print(f"device {jax.devices()[0].platform} x{jax.device_count()}, target {args.target} (alpha={f.alpha}, C={f.constant:.4g}), "
          f"{moe.num_experts} cpwl experts of width {moe.expert_width}, depth {moe.expert_depth}, rtol {args.rtol}")

    ma.sup_error(f, moe, rtol=args.rtol, max_evals=args.max_evals)  # compile
    report = ma.sup_error(f, moe, rtol=args.rtol, max_evals=args.max_evals)
    print(f"branch and bound: [{report.lower:.10g}, {report.upper:.10g}] certified={report.certified} "
          f"evaluations={report.evaluations} time={report.seconds:.3f} s")

    # the uniform grid of the plain Hölder argument for the same certificate
    lip = expert_lipschitz(moe)
    h = 1.0 / args.cells_per_side
    delta = 2 * args.rtol * report.lower / (f.constant + lip)
    uniform = int(np.sum(np.ceil(h / delta) ** 2))
    uniform_target_only = int(moe.num_experts * np.ceil(h / (2 * args.rtol * report.lower / f.constant)) ** 2)
    lo, hi = moe.partition.all_bounds()
    pts = cell_grid(lo, hi, 64)
    grid_eval = jax.jit(lambda p: jnp.max(jnp.abs(f.fn(p) - moe.apply_blocked(p))))
    grid_rate = pts.shape[0] * pts.shape[1] / best_time(lambda: grid_eval(pts))
    print(f"uniform Hölder grid: {uniform:.4g} points (Lip Φ up to {lip.max():.4g}; {uniform_target_only:.4g} even with Lip Φ = 0), "
          f"time {uniform / grid_rate:.4g} s extrapolated at {grid_rate:.4g} points/s")
    print(f"ratio: {uniform / report.evaluations:.4g}x fewer evaluations (goal >= 10x); "
          f"{uniform / grid_rate / report.seconds:.4g}x less time")

    # throughput: whole branch and bound, and the expert kernel alone, against dense float64 matmul
    from moe_approx.supnorm import CAPACITY, MAX_SLOTS
    from moe_approx.mlp import index_stack
    rng = np.random.default_rng(0)
    slots = MAX_SLOTS
    cells = rng.integers(0, moe.num_experts, slots)
    nets = jax.tree_util.tree_map(jnp.asarray, index_stack(jax.tree_util.tree_map(np.asarray, moe.experts), cells))
    centre = jnp.asarray((lo[cells][:, None, :] + hi[cells][:, None, :]) / 2 + np.zeros((1, CAPACITY, 2)))
    radius = jnp.full(centre.shape, h / 64)
    kernel_rate = slots * CAPACITY / best_time(lambda: _expert_kernel(nets, centre, radius))
    flops = kernel_flops_per_box(moe)
    peak = matmul_rate()
    bb_rate = report.evaluations / report.seconds
    print(f"throughput: branch and bound {bb_rate:.4g} boxes/s, expert kernel alone {kernel_rate:.4g} boxes/s "
          f"({flops} flop/box)")
    print(f"dense float64 matmul: {peak / 1e9:.4g} GFLOP/s; evaluator reaches {bb_rate * flops / 1e9:.4g} GFLOP/s "
          f"= {bb_rate * flops / peak:.3%} (kernel alone {kernel_rate * flops / peak:.3%})")


if __name__ == "__main__":
    main()
