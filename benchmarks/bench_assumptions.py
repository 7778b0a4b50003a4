"""Time and catch rate of :func:`moe_approx.assumptions.check_assumptions`, sampling alone against
sampling plus the local search (issue 12: < 0.2 s on 4096 cells; issue 18: the search's cost).

Time: default budget (16 pairs per cell, 65536 pairs) on 4096 cells, after a warm-up call that
compiles the target's gradient (the steered pairs), its Hessian-vector kernel (the search) and,
with ``uses_derivative``, its k-th partials; for (α, C) alone and with (s, D), at n = 2 and n = 20,
with ``search=False`` (the sampling-only baseline) and ``search=True``. Prints seconds per call, the
ratio against the 0.2 s goal and the search's cost as a ratio against the baseline.

Catch rate: the battery of false declarations of ``tests/test_liars.py`` (the lies the check must
refuse, and those it is not expected to find), checked with each setting at the default seed and at
``--seeds`` more; prints the lies caught out of all, the misses by name, and the seconds the
battery took (compilation included: each liar is a new function).
"""

import argparse
import sys
import time
from pathlib import Path

import moe_approx as ma
from moe_approx.assumptions import AssumptionError, check_assumptions

from _timing import best_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_liars import BATTERY, NOT_CAUGHT  # noqa: E402

GOAL_SECONDS = 0.2


def timing(cells: int):
    K = round(cells ** 0.5)
    for n, part in ((2, ma.GridPartition(2, K)), (20, ma.DyadicPartition(20, 0))):
        lo, hi = part.all_bounds()
        if n == 20:  # copies of the unit cell: the same work as that many cells
            lo, hi = lo.repeat(cells, 0), hi.repeat(cells, 0)
        target = ma.targets.get("sine_product", n=n)
        for uses_derivative in (False, True):
            seconds = {}
            for search in (False, True):
                last = {}

                def run():
                    last["a"] = check_assumptions(target, lo, hi, uses_derivative=uses_derivative, search=search)
                    return 0

                seconds[search] = best_time(run)
                a = last["a"]
                print(f"n={n:2d} cells={a.cells} pairs={a.pairs} derivative_pairs={a.gradient_pairs} "
                      f"searched={a.searched_pairs:5d}: {seconds[search]:.3f} s "
                      f"({seconds[search] / GOAL_SECONDS:.2f} x the {GOAL_SECONDS} s goal)")
            print(f"   search / sampling alone: {seconds[True] / seconds[False]:.2f} x")


def catch_rate(search: bool, seeds: int):
    caught, total, missed = 0, 0, []
    start = time.perf_counter()
    for liar in BATTERY + NOT_CAUGHT:
        for seed in range(seeds + 1):
            total += 1
            try:
                check_assumptions(liar.target, liar.lo, liar.hi, uses_derivative=liar.uses_derivative, seed=seed,
                                  search=search)
                missed.append(f"{liar.name} (seed {seed})")
            except AssumptionError:
                caught += 1
    seconds = time.perf_counter() - start
    label = "sampling + search" if search else "sampling alone  "
    print(f"{label}: {caught}/{total} lies caught ({caught / total:.0%}) in {seconds:.1f} s; "
          f"missed: {', '.join(missed) or 'none'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=4096, help="cells (a K^n grid for n = 2, copies for n = 20)")
    parser.add_argument("--seeds", type=int, default=0, help="seeds beyond the default one for the catch rate")
    args = parser.parse_args()
    timing(args.cells)
    print(f"battery: {len(BATTERY)} lies to catch, {len(NOT_CAUGHT)} not expected to be caught")
    for search in (False, True):
        catch_rate(search, args.seeds)


if __name__ == "__main__":
    main()
