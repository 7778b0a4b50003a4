"""Build time and peak memory of an MoE of 10^6 experts (n = 2): constant experts, and cpwl with k = 1.

Goal (issue 3): each build under 10 s on a 2-core machine, peak memory under 2x the bytes of the
parameters it stores. Peak memory: tracemalloc's peak of Python and numpy allocations during
``build_moe`` (the target's JAX evaluation of the nodes is on the accelerator/XLA heap and shows in
the process' peak RSS, printed beside it). Parameter bytes: the arrays the MoE holds (layers shared
by all cells counted once), and for reference 8 * L * num_params (every expert stored densely).
Ratios: peak / parameter bytes, and cpwl against the constant baseline of the same run.
"""

import argparse
import resource
import time
import tracemalloc

import numpy as np

import moe_approx as ma


def held_bytes(net) -> int:
    arrays = [a for w, b in net.layers for a in (w, b)] + list(net.slopes)
    return int(sum(np.asarray(a).nbytes for a in {id(a): a for a in arrays}.values()))


def measure(target, part, expert, **size):
    ma.build_moe(target, ma.GridPartition(2, 4), expert=expert, **size)  # compile the target once
    tracemalloc.start()
    t = time.perf_counter()
    moe = ma.build_moe(target, part, expert=expert, **size)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return moe, seconds, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells-per-side", type=int, default=1000)
    args = parser.parse_args()
    target = ma.targets.get("gaussian_bump", n=2)
    part = ma.GridPartition(2, args.cells_per_side)
    print(f"n = 2, {part.num_cells} experts, target {target.name}")
    base_time = None
    for expert, size in (("constant", {}), ("cpwl", {"k": 1})):
        for activation in ("relu", "prelu"):
            moe, seconds, peak = measure(target, part, expert, activation=activation, **size)
            held = held_bytes(moe.experts)
            dense = 8 * moe.num_experts * moe.expert_params
            base_time = base_time or seconds
            print(f"{expert:8s} {activation:5s} {size}: build {seconds:6.2f} s ({seconds / base_time:5.2f} x constant relu), "
                  f"peak {peak / 2**20:8.1f} MiB, parameters held {held / 2**20:8.1f} MiB "
                  f"(peak / held = {peak / held:4.2f}; dense 8*L*num_params = {dense / 2**20:.1f} MiB)")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")


if __name__ == "__main__":
    main()
