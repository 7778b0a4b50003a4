"""Evaluation throughput of a MoE (n = 2, 4096 experts of width 32, depth 3) against baselines.

(a) one expert of the same size on the same points, no routing: the plain MLP call, and the
    MoE's own chunked slot kernel run on copies of one expert;
(a') one expert, its weights shared by every chunk (one large matmul per chunk): the fastest
    single-expert evaluation we know, printed for reference;
(b) a naive evaluation that gathers each point's expert weights.
Every network, and the points, are on the device before timing; the MoE gets the same device
array x as (a). Goal (issue 11): MoE __call__ >= 0.8 x (a), the faster of its two lines; >= 5 x (b).
Ratios come from one run on one machine; on a shared machine the CPU-time ratio (process time,
all threads) is the steadier one. The stage lines say where the MoE's time goes.
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import moe_approx as ma
from _timing import best_time
from moe_approx import moe as moe_module
from moe_approx.moe import MixtureOfExperts, _apply_stack


def best_cpu(fn, repeats=3):
    """Process CPU seconds (all threads) of the cheapest of ``repeats`` calls of ``fn``, after a warm-up."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t = time.process_time()
        jax.block_until_ready(fn())
        times.append(time.process_time() - t)
    return min(times)


def stages(moe, xj, repeats=3):
    """Least process CPU time of each stage of ``moe(xj)``: routing, host sort and plan, slot gather, slot passes, scatter."""
    N, L = xj.shape[0], moe.num_experts
    size = moe_module._bucket(N)
    r = moe.dispatch(xj)
    xp = moe_module._pad_rows(xj, size)
    key = np.asarray(moe_module._sort_keys(moe.partition._locate(xp), N, L)[0])
    passes = [(cap, p, moe_module._slot_points(xp, r.order, p[2], p[3], cap)) for cap, p in zip(r.caps, r.passes)]
    E = moe._device_experts
    outs = tuple(moe_module._slot_pass(E, xs, p[1], p[0]) for _, p, (_, xs) in passes)
    where = tuple(pts for _, _, (pts, _) in passes)
    times = {
        "route on the device (check, locate, counts, keys)":
            best_cpu(lambda: (bool(moe_module._in_cube(xj)), moe_module._sort_keys(moe.partition._locate(xp), N, L)), repeats),
        "host radix sort of the cell keys": best_cpu(lambda: np.argsort(key, kind="stable"), repeats),
        "whole dispatch (route + sort + plan + copies)": best_cpu(lambda: moe.dispatch(xj), repeats),
        "gather points into slots": best_cpu(
            lambda: [moe_module._slot_points(xp, r.order, p[2], p[3], cap) for cap, p, _ in passes], repeats),
        "scatter outputs to input order": best_cpu(lambda: moe_module._unsort(where, outs, size), repeats),
    }
    for cap, p, (_, xs) in passes:
        slots = int(np.count_nonzero(np.asarray(p[3])))
        times[f"slot pass of capacity {cap} ({slots} slots, expert matmuls)"] = best_cpu(
            lambda: moe_module._slot_pass(E, xs, p[1], p[0]), repeats)
    lanes = sum(cap * int(np.count_nonzero(np.asarray(p[3]))) for cap, p in zip(r.caps, r.passes))
    return times, r.caps, lanes


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
    single = ma.mlp.index_stack(moe._device_experts, 0)
    N = args.points
    x = rng.random((N, 2))
    xj = jnp.asarray(x)
    one = jax.jit(lambda net, z: net(z)[:, 0])
    chunk = 2**14
    shared = jax.jit(lambda net, z: jax.lax.map(lambda c: net(c)[:, 0], z.reshape(-1, chunk, 2)).reshape(-1))
    naive = jax.jit(lambda z: moe.apply_per_point(z))
    grouped = jnp.asarray(ma.certify.cell_grid(*part.all_bounds(), int(np.sqrt(N // L))))
    P = grouped.shape[1]
    N_chunks = N // P
    same_expert = ma.mlp.index_stack(moe._device_experts, jnp.zeros(N_chunks, dtype=int))
    x_rows = xj[: N_chunks * P].reshape(N_chunks, P, 2)

    t_first = time.perf_counter()
    jax.block_until_ready(moe(xj))
    t_first = time.perf_counter() - t_first
    t_moe = best_time(lambda: moe(xj), repeats=5)
    t_moe_host = best_time(lambda: moe(x), repeats=3)
    t_grouped = best_time(lambda: moe.apply_blocked(grouped))
    t_one_plain = best_time(lambda: one(single, xj))
    t_one_chunked = best_time(lambda: _apply_stack(same_expert, x_rows)) * N / (N_chunks * P)
    t_shared = best_time(lambda: shared(single, xj)) if N % chunk == 0 else float("nan")
    t_one = min(t_one_plain, t_one_chunked)
    t_naive = best_time(lambda: naive(xj), repeats=2)
    times, caps, lanes = stages(moe, xj)
    cpu_moe = best_cpu(lambda: moe(xj), repeats=5)
    cpu_one = min(best_cpu(lambda: one(single, xj)), best_cpu(lambda: _apply_stack(same_expert, x_rows)) * N / (N_chunks * P))
    cpu_shared = best_cpu(lambda: shared(single, xj)) if N % chunk == 0 else float("nan")
    print(f"device: {jax.devices()[0].platform}, points: {N}, experts: {L}, width {w}, depth 3, float64")
    print(f"MoE __call__ on the device array (route + sort + slots):  {N / t_moe:12.4g} points/s"
          f"   (first call, with compilation: {t_first:.2f} s)")
    print(f"MoE __call__ on the numpy array (adds the copy to device): {N / t_moe_host:12.4g} points/s")
    print(f"MoE on points already grouped by cell (apply_blocked):     {grouped.shape[0] * P / t_grouped:12.4g} points/s")
    print(f"(a) one expert, no routing, plain MLP call:                {N / t_one_plain:12.4g} points/s")
    print(f"(a) one expert, no routing, same chunked slot kernel:      {N / t_one_chunked:12.4g} points/s")
    print(f"(a') one expert, weights shared by each 2^14-point chunk:  {N / t_shared:12.4g} points/s")
    print(f"(b) naive per-point weight gather:                         {N / t_naive:12.4g} points/s")
    print(f"ratio MoE/(a) = {t_one / t_moe:.2f}  (goal >= 0.8; (a) = the faster of the two);"
          f"  grouped/(a) = {t_one / t_grouped * grouped.shape[0] * P / N:.2f};  MoE/(a') = {t_shared / t_moe:.2f}")
    print(f"ratio MoE/(b) = {t_naive / t_moe:.2f}  (goal >= 5)")
    print(f"CPU time (process, ms): MoE {1e3 * cpu_moe:.1f}, (a) {1e3 * cpu_one:.1f}, (a') {1e3 * cpu_shared:.1f};"
          f"  ratio MoE/(a) = {cpu_one / cpu_moe:.2f}, MoE/(a') = {cpu_shared / cpu_moe:.2f}"
          f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"where the MoE's time goes (CPU ms, least of 3; slot capacities {caps}, lanes {lanes} = {lanes / N:.3f} N):")
    for name, t in times.items():
        print(f"  {name:52s} {1e3 * t:8.1f}")
    print(f"  {'__call__ total':52s} {1e3 * cpu_moe:8.1f}")


if __name__ == "__main__":
    main()
