"""Time of :func:`moe_approx.assumptions.check_assumptions` on 4096 cells (issue 12: < 0.2 s).

Default budget (16 pairs per cell, 65536 pairs), after a warm-up call that compiles the target's
gradient (the steered pairs) and, with ``uses_derivative``, its k-th partials. Prints seconds per
call and pairs per second, for (α, C) alone and with (s, D), at n = 2 and n = 20. The ratio printed
is the time against the 0.2 s goal.
"""

import argparse

import moe_approx as ma
from moe_approx.assumptions import check_assumptions

from _timing import best_time

GOAL_SECONDS = 0.2


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=4096, help="cells (a K^n grid for n = 2, dyadic for n = 20)")
    args = parser.parse_args()
    K = round(args.cells ** 0.5)
    cases = [(2, ma.GridPartition(2, K)), (20, ma.DyadicPartition(20, 0))]
    for n, part in cases:
        lo, hi = part.all_bounds()
        if n == 20:  # 4096 copies of the unit cell: the same work as 4096 cells
            lo, hi = lo.repeat(args.cells, 0), hi.repeat(args.cells, 0)
        target = ma.targets.get("sine_product", n=n)
        for uses_derivative in (False, True):
            last = {}

            def run():
                last["a"] = check_assumptions(target, lo, hi, uses_derivative=uses_derivative)
                return 0

            seconds = best_time(run)
            a = last["a"]
            print(f"n={n:2d} cells={a.cells} pairs={a.pairs} derivative_pairs={a.gradient_pairs}: {seconds:.3f} s "
                  f"({a.pairs / seconds:.3g} pairs/s), {seconds / GOAL_SECONDS:.2f} x the {GOAL_SECONDS} s goal")


if __name__ == "__main__":
    main()
