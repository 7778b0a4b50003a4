"""Linear (CROWN) bounds against the affine form and the Lipschitz bound on a depth-9 Yarotsky expert (issue 19).

The expert: ``build_moe(sine_product, GridPartition(3, 1), expert="yarotsky")`` (m = 8, degree 2: depth 9,
width 78). Boxes: cubes of side 0.1 and 0.01 with centres uniform in [side/2, 1 − side/2]^3 (seeded). Per box:

(a) the width of the enclosure of Φ on the box: Lipschitz 2Λρ (Λ of the whole cell, moe_approx.lipschitz),
    the affine form 2(Σ|g_i| + ρ_Φ + rounding) (certify.kernels._affine_form), CROWN: the linear lines' extremes
    (b_up + Σ|a_up| r) − (b_lo − Σ|a_lo| r) + 2m (hidden intervals by backward passes, or "forward": by forward
    linear bounds), and the sampled range (a lower bound of the true width);
(b) the upper bound of sup_B |f − Φ| with f = sine_product as a formula (certify.kernels._affine_kernel against
    certify.linear.linear_kernel, same boxes, same conventions) and the sampled max of |f − Φ|;
(c) boxes per second of both kernels (compiled; best of 3). Ratios are medians over the boxes.
Numbers come from one run on one machine.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import moe_approx as ma
from _timing import best_time
from moe_approx import formula
from moe_approx.certify.linear import linear_bounds, linear_kernel
from moe_approx.lipschitz import cell_constants
from moe_approx.certify.kernels import _affine_form, _affine_kernel


def widths(expert, lip, centre, radius, rng, samples=4000):
    """Per box: (Lipschitz, affine, CROWN, forward-then-backward, sampled) widths of Φ's enclosure, samples."""
    c, r = jnp.asarray(centre[None]), jnp.asarray(radius[None])
    _, g, rem, err = (np.asarray(o)[0] for o in _affine_form(expert, c, r))
    affine = 2 * (np.abs(g).sum(-1) + rem + err)

    def linear(mode):
        lb = jax.tree_util.tree_map(lambda o: np.asarray(o)[0], linear_bounds(expert, c, r, mode))
        top, bottom = lb.b_up + np.abs(lb.a_up * radius).sum(-1), lb.b_lo - np.abs(lb.a_lo * radius).sum(-1)
        return top - bottom + 2 * lb.margin

    x = centre[:, None] + rng.uniform(-1, 1, (len(centre), samples, 3)) * radius[:, None]
    phi = np.asarray(expert(jnp.asarray(x.reshape(1, -1, 3)))).reshape(len(centre), samples)
    return 2 * lip * radius.max(1), affine, linear("crown"), linear("forward"), phi.max(1) - phi.min(1), x, phi


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    moe = ma.build_moe(ma.targets.get("sine_product", n=3), ma.GridPartition(3, 1), expert="yarotsky")
    f = formula.library("sine_product", 3)
    expert = jax.tree_util.tree_map(jnp.asarray, moe.experts)
    lo, hi = moe.partition.all_bounds()
    lip = cell_constants(moe.experts, lo, hi)[0][0]
    print(f"Yarotsky expert: depth {moe.expert_depth}, width {moe.expert_width}, Lipschitz bound on [0,1]^3 {lip:.4g}")
    N = args.boxes
    slots = (np.zeros(N, np.int64), np.arange(N)[:, None], np.arange(N))
    for side in (0.1, 0.01):
        centre = rng.uniform(side / 2, 1 - side / 2, (N, 3))
        radius = np.full((N, 3), side / 2)
        lip_w, aff_w, crown_w, forward_w, sampled, x, phi = widths(expert, lip, centre, radius, rng)
        print(f"\nside {side}: width of Φ's enclosure (mean over {N} boxes)")
        for name, w in (("Lipschitz 2Λρ", lip_w), ("affine form", aff_w), ("CROWN (linear)", crown_w),
                        ("linear, forward", forward_w),
                        ("sampled range", sampled)):
            print(f"  {name:16s} {np.mean(w):.4e}   median ratio to CROWN {np.median(w / crown_w):6.3f}")
        args_ = (jnp.asarray(centre), jnp.asarray(radius), None, None)
        affine = np.asarray(_affine_kernel(f, moe.experts, *slots, *args_)[0])
        linear = np.asarray(linear_kernel(f, expert, *slots, *args_)[0])
        forward = np.asarray(linear_kernel(f, expert, *slots, *args_, intermediate="forward")[0])
        truth = np.abs(np.asarray(f.fn(jnp.asarray(x))) - phi).max(1)
        assert np.all(linear >= truth) and np.all(affine >= truth) and np.all(forward >= truth)
        print(f"  bound of sup|f − Φ| (mean): affine kernel {affine.mean():.4e}, linear kernel {linear.mean():.4e}, "
              f"forward {forward.mean():.4e}, sampled {truth.mean():.4e};\n    median ratio affine/linear "
              f"{np.median(affine / linear):.3f}, affine/forward {np.median(affine / forward):.3f}, "
              f"excess over sampled: median ratio {np.median((affine - truth) / (linear - truth)):.3f}")
        t_aff = best_time(lambda: _affine_kernel(f, moe.experts, *slots, *args_))
        t_lin = best_time(lambda: linear_kernel(f, expert, *slots, *args_))
        t_fwd = best_time(lambda: linear_kernel(f, expert, *slots, *args_, intermediate="forward"))
        print(f"  boxes/s: affine kernel {N / t_aff:.3g}, linear kernel {N / t_lin:.3g} ({t_lin / t_aff:.0f}x slower), "
              f"forward {N / t_fwd:.3g} ({t_fwd / t_aff:.1f}x slower)")


if __name__ == "__main__":
    main()
