"""Formula targets (issue 15): local enclosure width vs the Hölder bound, and enclosure throughput.

(a) On boxes B = c ± ρ (∞-norm radius ρ, centres uniform in [ρ, 1 − ρ]^2), the width of the
natural interval enclosure of f and of the mean-value form, divided by the width 2Cρ^α of the
enclosure f(c) ± Cρ^α that the declared (α, C) give. Below 1: the formula path bounds f more
tightly than the global constant; the median shows the typical box, the max the worst one.
(b) Jitted throughput (boxes/s) of enclose, enclose_gradient and mean_value_enclosure for n = 2.
(c) A proxy for the certificate's cost: enclosure evaluations to bound f on [0,1]^2 to width tau
on every box, by quadrisecting the boxes whose mean-value enclosure is wider than tau (formula
path), against the uniform dyadic grid that the declared (alpha, C) need (2 C (h/2)^alpha <= tau,
counted with its coarser levels: (4^(k+1) − 1)/3 evaluations).
Numbers come from one run on one machine.
"""

import argparse

import jax
import numpy as np

from _timing import best_time
from moe_approx import formula

# slope 20 in the corner x1 = 1, at most 1 for x1 <= 1 − ln(20)/20 ≈ 0.85 (‖∇f‖_1 ≤ 20.5)
CORNER = "x2/2 + exp(20*(x1 - 1))"
# variables that occur several times: the natural enclosure overestimates, the mean-value form does not
DEPENDENT = "x1*(1 - x1) + x2*exp(-x2) - x1*x2"


def targets():
    out = {name: formula.library(name, 2) for name in ("sine_product", "gaussian_bump", "oscillatory", "weierstrass", "cusp", "ridge")}
    out["corner (computed C)"] = formula.from_sympy(CORNER, 2, name="corner")
    out["dependent (computed C)"] = formula.from_sympy(DEPENDENT, 2, name="dependent")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boxes", type=int, default=2**10, help="boxes per radius in (a)")
    parser.add_argument("--throughput-boxes", type=int, default=2**16)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"device: {jax.devices()[0].platform}, float64")
    print("(a) enclosure width / (2 C rho^alpha): median and max over boxes c ± rho")
    print(f"{'target':22s} {'alpha':>5s} {'C':>8s} {'rho':>7s} {'natural med':>12s} {'natural max':>12s} {'MV med':>9s} {'MV max':>9s}")
    for name, f in targets().items():
        for rho in (1e-1, 1e-2, 1e-3, 1e-4):
            c = rng.uniform(rho, 1 - rho, size=(args.boxes, 2))
            lo, hi = c - rho, c + rho
            holder = 2 * f.constant * rho**f.alpha
            nat = np.diff(np.stack([np.asarray(a) for a in f.enclose(lo, hi)]), axis=0)[0] / holder
            mv = np.diff(np.stack([np.asarray(a) for a in f.mean_value_enclosure(lo, hi)]), axis=0)[0] / holder
            print(f"{name:22s} {f.alpha:5.2f} {f.constant:8.3f} {rho:7.0e} {np.median(nat):12.3g} {nat.max():12.3g} "
                  f"{np.median(mv):9.3g} {mv.max():9.3g}")
    print(f"(b) throughput, n = 2, {args.throughput_boxes} boxes of radius 1e-3, boxes/s")
    N = args.throughput_boxes
    c = rng.uniform(1e-3, 1 - 1e-3, size=(N, 2))
    lo, hi = c - 1e-3, c + 1e-3
    print(f"{'target':22s} {'enclose':>12s} {'gradient':>12s} {'mean value':>12s}")
    for name, f in targets().items():
        rates = [N / best_time(lambda m=m: m(lo, hi)) for m in (f.enclose, f.enclose_gradient, f.mean_value_enclosure)]
        print(f"{name:22s} " + " ".join(f"{r:12.4g}" for r in rates))
    print("(c) evaluations to enclose f to width tau on every box: formula (adaptive) vs declared constants (uniform)")
    print(f"{'target':22s} {'tau':>7s} {'formula':>10s} {'declared':>10s} {'ratio':>7s}")
    for name, f in targets().items():
        if name in ("weierstrass", "oscillatory"):
            continue  # frequencies 8^5 pi and 20 pi: both paths need millions of boxes
        for tau in (1e-1, 1e-2):
            a, h = adaptive_evaluations(f, tau), holder_evaluations(f, tau)
            print(f"{name:22s} {tau:7.0e} {a:10d} {h:10d} {h / a:7.1f}")


def adaptive_evaluations(f, tau: float, max_level: int = 16) -> int:
    """Enclosure evaluations of the quadrisection until every box's enclosure is at most tau wide."""
    lo, hi = np.zeros((1, 2)), np.ones((1, 2))
    count = 0
    for _ in range(max_level + 1):
        f_lo, f_hi = (np.asarray(a) for a in f.mean_value_enclosure(lo, hi))
        count += len(lo)
        wide = f_hi - f_lo > tau
        if not wide.any():
            return count
        lo, hi = lo[wide], hi[wide]
        mid = 0.5 * (lo + hi)
        corners = [(np.where(m, mid, lo), np.where(m, hi, mid)) for m in np.array([[0, 0], [0, 1], [1, 0], [1, 1]], bool)]
        lo = np.concatenate([c[0] for c in corners])
        hi = np.concatenate([c[1] for c in corners])
    raise RuntimeError(f"no width {tau} after {max_level} levels")


def holder_evaluations(f, tau: float) -> int:
    k = max(0, int(np.ceil(np.log2(1 / (2 * (tau / (2 * f.constant)) ** (1 / f.alpha))))))
    return (4 ** (k + 1) - 1) // 3


if __name__ == "__main__":
    main()
