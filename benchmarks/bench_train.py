"""Training throughput: all experts at once (vmap, moe_approx.train) against a Python loop over experts.

Setting (defaults): n = 2, a 16 × 16 grid (256 experts), experts of width 16 and depth 3, the
s^n = 64^2 grid vertices with an 80/20 split, full-batch Adam. Both sides run the same jitted
training scan (train._run_chunk) on the same padded per-expert data; the loop calls it once per
expert (all steps in one call: the loop's best case). A third line trains the experts one after
another with the library's own per-network path (what Algorithm 2 run sequentially costs: data
grouping, progress updates, folding); a fourth is the naive Python loop over experts and steps
(one jitted Adam step per call). Compile time is excluded (a warm-up run of each, best of 5 for
the first two).
Goal (issue 13): vectorised >= 10 x the loop's samples per second at 256 experts. Also prints the
memory per expert (parameters, Adam's two moments, the expert's padded data). One run, one machine.
"""

import argparse
import jax
import jax.numpy as jnp
import numpy as np

import moe_approx as ma
from _timing import best_time
from moe_approx import train


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells-per-side", type=int, default=16)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--samples-per-side", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    n, part = 2, ma.GridPartition(2, args.cells_per_side)
    L = part.num_cells
    target = ma.targets.get("sine_product", n=n)
    Xtr, ytr, _, _ = train.make_data(target, args.samples_per_side, 0.2, 0, "mse")
    cell = np.asarray(part.locate(Xtr))
    counts = np.bincount(cell, minlength=L)
    P = int(counts.max())
    order = np.argsort(cell, kind="stable")
    pos = np.arange(len(cell)) - (np.cumsum(counts) - counts)[cell[order]]
    Z, Y, M = np.zeros((L, P, n)), np.zeros((L, P, 1)), np.zeros((L, P))
    Z[cell[order], pos], Y[cell[order], pos, 0], M[cell[order], pos] = Xtr[order], ytr[order, 0], 1.0
    Z, Y, M = jnp.asarray(Z), jnp.asarray(Y), jnp.asarray(M)
    widths = (n,) + (args.width,) * (args.depth - 1) + (1,)
    opt = train._optimiser(1e-2, args.steps)
    params = train._init_stack(0, widths, "relu", L)
    state = train._init_state(params, opt)

    def vectorised():
        return train._run_chunk(params, state, Z, Y, M, opt, "mse", args.steps)

    # the loop's inputs are sliced beforehand: only the training calls are timed
    pieces = [jax.block_until_ready(jax.tree_util.tree_map(lambda a: a[l:l + 1], (params, state, Z, Y, M)))
              for l in range(L)]

    def loop():
        return [train._run_chunk(*piece, opt, "mse", args.steps) for piece in pieces]

    X_cells = [Xtr[cell == l] for l in range(L)]
    y_cells = [ytr[cell == l] for l in range(L)]
    lo, hi = part.all_bounds()

    def sequential():  # Algorithm 2 run one expert after another with the library's own trainer
        return [train._train_cells(X_cells[l], y_cells[l], np.zeros(len(X_cells[l]), np.int64), lo[l:l + 1],
                                   hi[l:l + 1], widths, "relu", "mse", args.steps, 1e-2, 0, False, "")[0]
                for l in range(L)]

    def naive():  # a Python loop over experts and over steps: one jitted Adam step per call
        out = []
        for piece in pieces:
            p, s, z, y, m = piece
            for _ in range(args.steps):
                p, s, _ = train._run_chunk(p, s, z, y, m, opt, "mse", 1)
            out.append(p)
        return out

    timings = {"vectorised (vmap over experts)": best_time(vectorised, repeats=5),
               "loop of jitted per-expert scans": best_time(loop, repeats=5),
               "loop of train per cell (sequential)": best_time(sequential, repeats=1),
               "loop over experts and steps": best_time(naive, repeats=1)}
    samples = int(counts.sum())
    for name, seconds in timings.items():
        print(f"{name:36s} {seconds:8.3f} s   {args.steps * samples / seconds:12.4g} samples/s")
    vec = timings["vectorised (vmap over experts)"]
    print(f"speed-up of the vectorised training at {L} experts (goal >= 10 x): "
          + ", ".join(f"{seconds / vec:.1f} x against the {name}" for name, seconds in timings.items() if seconds != vec)
          + f"  [{samples} training samples, {args.steps} steps, widths {widths}, "
          f"{jax.device_count()} {jax.default_backend()} device(s)]")
    nbytes = lambda tree: sum(np.asarray(a).nbytes for a in jax.tree_util.tree_leaves(tree))  # noqa: E731
    per_expert = {"parameters": nbytes(params) / L, "Adam state": nbytes(state) / L,
                  "padded data": (Z.nbytes + Y.nbytes + M.nbytes) / L}
    print("memory per expert: " + ", ".join(f"{k} {v / 1024:.2f} KiB" for k, v in per_expert.items())
          + f"; total {sum(per_expert.values()) / 1024:.2f} KiB ({train.mlp_params(n, args.width, args.depth)} parameters)")


if __name__ == "__main__":
    main()
