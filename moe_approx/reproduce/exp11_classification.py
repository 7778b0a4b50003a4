"""Experiment 11: classification by a trained MoMLP routed by prototypes against one MLP of the same size.

The paper classifies CIFAR-10, CIFAR-100 and Food-101; those cannot be downloaded here. The project's
reading of that protocol with every setting explicit: scikit-learn's bundled digits (8×8 images,
1,797 samples, pixels /16 so inputs lie in [0,1]^64), or any user arrays (X, y) from an ``.npz``
(``--data file.npz`` with entries ``X`` (N, d) and ``y`` (N,) integer labels; X is min-max scaled to
[0,1]^d, optionally after PCA to ``--pca`` dimensions, so CIFAR features run through the same code).

Each run draws a random 80/20 split; k-means (scikit-learn, on the training inputs) gives L
prototypes; ``PrototypePartition`` routes by its k-d tree over them; one expert MLP per cell is
trained on its cell's samples with cross-entropy (moe_approx.train.fit_moe), against one MLP of
the same depth whose stored parameters match the MoMLP's total (router included). Accuracy is
reported per run and as mean ± std over the runs. Router count: ``prototypes`` (the paper's VC
term n·L: L prototypes in R^n stored; docs/theory.md §7), stated in the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import moe_approx as ma
from moe_approx import plotting, train

from ._common import Results

SETTINGS = {
    "tiny": {"experts": [2], "runs": 2, "width": 8, "depth": 2, "steps": 40, "max_samples": 400},
    "quick": {"experts": [4, 8], "runs": 3, "width": 16, "depth": 2, "steps": 300, "max_samples": None},
    "full": {"experts": [2, 4, 8, 16, 32], "runs": 5, "width": 32, "depth": 2, "steps": 2000, "max_samples": None},
}
COMMON = {"activation": "relu", "learning_rate": 1e-2, "test_fraction": 0.2, "seed": 0, "router_count": "prototypes",
          "kmeans_init": 3}


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits (no download): pixels /16 in [0,1]^64, labels 0..9."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data / 16.0, data.target.astype(np.int64)


def load_npz(path, pca: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """User arrays from an ``.npz`` (entries X (N, d), y (N,) integer labels) scaled to [0,1]^d."""
    with np.load(path, allow_pickle=False) as data:
        if "X" not in data.files or "y" not in data.files:
            raise ValueError(f"{path} must hold arrays 'X' (N, d) and 'y' (N,), found {data.files}")
        X, y = np.asarray(data["X"], np.float64).reshape(len(data["X"]), -1), np.asarray(data["y"])
    if len(y) != len(X) or not np.all(np.mod(y, 1) == 0):
        raise ValueError(f"{path}: y must hold one integer label per row of X")
    _, y = np.unique(y, return_inverse=True)
    if pca:
        from sklearn.decomposition import PCA

        X = PCA(n_components=pca, random_state=0).fit_transform(X)
    span = X.max(0) - X.min(0)
    return (X - X.min(0)) / np.where(span > 0, span, 1.0), y.astype(np.int64)


def prototypes(X, L: int, seed: int, n_init: int) -> np.ndarray:
    """L k-means centroids of X (distinct; in the convex hull of X, so in [0,1]^d)."""
    from sklearn.cluster import KMeans

    centres = KMeans(n_clusters=L, random_state=seed, n_init=n_init).fit(X).cluster_centers_
    return np.clip(np.unique(centres, axis=0), 0.0, 1.0)


def run(out, size="quick", force=False, data=None, pca=None):
    settings = SETTINGS[size] | COMMON | {"dataset": "digits" if data is None else str(data), "pca": pca}
    name = "exp11_classification"
    res = Results(out, name, settings, force)
    if not res.done:
        X, y = digits() if data is None else load_npz(data, pca)
        if settings["max_samples"]:
            X, y = X[: settings["max_samples"]], y[: settings["max_samples"]]
        for run_index in range(settings["runs"]):
            seed = settings["seed"] + run_index
            for L in settings["experts"]:
                _one_run(res, settings, X, y, L, seed, run_index)
        res.finish(**summary(res.rows))
    return res.outputs(figure(res.rows, Path(out)))


def _one_run(res, settings, X, y, L, seed, run_index):
    W, J, act = settings["width"], settings["depth"], settings["activation"]
    common = {"learning_rate": settings["learning_rate"], "test_fraction": settings["test_fraction"],
              "loss": "cross_entropy", "progress": False}
    Xtr, _, _, _ = train.make_data((X, y), 0, settings["test_fraction"], seed, "cross_entropy")
    part = ma.PrototypePartition(prototypes(Xtr, L, seed, settings["kmeans_init"]),
                                 router_count=settings["router_count"])
    moe, rec = train.fit_moe((X, y), part, W, J, act, steps=settings["steps"], seed=seed, **common)
    classes = moe.experts.out_dim
    mlp_width = train.matching_width(moe.total_params, X.shape[1], J, act, out=classes)
    mlp, rec_mlp = train.fit_mlp((X, y), mlp_width, J, act, steps=settings["steps"], seed=seed, **common)
    base = {"dataset": settings["dataset"], "n": X.shape[1], "classes": classes, "run": run_index, "seed": seed,
            "L": L, "samples": rec.samples, "test_samples": rec.test_samples, "router_count": settings["router_count"]}
    res.add(**base, model="trained_moe", experts=part.num_cells, width=W, depth=J,
            active_params=moe.active_params, total_params=moe.total_params,
            router_params_total=part.router_params_total, test_accuracy=rec.test_accuracy, train_seconds=rec.seconds,
            voronoi_agreement=part.voronoi_agreement(X))
    res.add(**base, model="trained_mlp", experts=1, width=mlp_width, depth=J, active_params=mlp.num_params,
            total_params=mlp.num_params, router_params_total=0, test_accuracy=rec_mlp.test_accuracy,
            train_seconds=rec_mlp.seconds, voronoi_agreement=float("nan"))


def summary(rows) -> dict:
    """Accuracy mean ± std over the runs per (L, model), with the parameter counts."""
    out = {}
    for L, kind in sorted({(r["L"], r["model"]) for r in rows}):
        sel = [r for r in rows if (r["L"], r["model"]) == (L, kind)]
        acc = np.array([r["test_accuracy"] for r in sel])
        out[f"L={L} {kind}"] = {"accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                                "runs": len(acc), "total_params": sel[0]["total_params"],
                                "active_params": sel[0]["active_params"]}
    return out


@plotting.styled
def figure(rows, out):
    """Left: test accuracy (mean ± std over the runs) per number of experts L for the MoMLP and one
    MLP of the same total parameters, side by side (markers with error bars; L takes few values, so
    nothing joins them). Right: parameters loaded per input for each, as bars, with the MoMLP's
    factor below the MLP written above its bar."""
    stats = summary(rows)
    kinds = (("trained_moe", "MoMLP (L experts, prototype router)", "o"), ("trained_mlp", "one MLP, same total parameters", "s"))
    Ls = sorted({r["L"] for r in rows})
    fig, axes = plotting.figure(2, legend_rows=1)
    for j, (kind, label, marker) in enumerate(kinds):
        x = np.arange(len(Ls)) + (j - 0.5) * 0.3
        mean = [stats[f"L={L} {kind}"]["accuracy_mean"] for L in Ls]
        std = [stats[f"L={L} {kind}"]["accuracy_std"] for L in Ls]
        axes[0].errorbar(x, mean, yerr=std, marker=marker, linestyle="none", capsize=3, color=plotting.PALETTE[j],
                         label=label)
        active = [stats[f"L={L} {kind}"]["active_params"] for L in Ls]
        axes[1].bar(x, active, width=0.28, color=plotting.PALETTE[j], label=label)
        if kind == "trained_moe":
            totals = [stats[f"L={L} {kind}"]["total_params"] for L in Ls]
            for xi, a, t in zip(x, active, totals):
                axes[1].annotate(f"{a:,} of {t:,}", (xi, a), xytext=(0, 2), textcoords="offset points", ha="center",
                                 va="bottom", fontsize=plotting.STYLE["legend.fontsize"])
    for ax in axes:
        ax.set_xticks(range(len(Ls)), [f"L = {L}" for L in Ls])
        ax.set_xlim(-0.6, len(Ls) - 0.4)
        ax.set_xlabel("number of experts L (k-means prototypes)")
        ax.grid(False, axis="x")
    axes[0].set_ylabel(f"test accuracy, mean ± std ({max(stats[k]['runs'] for k in stats)} runs)")
    axes[1].set_ylabel("parameters loaded per input")
    axes[1].set_ylim(0, 1.15 * max(stats[k]["active_params"] for k in stats))
    dataset = Path(str(rows[0]["dataset"])).name
    axes[0].set_title(f"{'8×8 digits' if dataset == 'digits' else dataset}: accuracy")
    axes[1].set_title("loaded per input (MoMLP: of its total)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2)
    return plotting.save(fig, out / "exp11_classification")


def main(argv=None):
    """Command line of the experiment, with ``--data``/``--pca`` for the user's own arrays."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/quick")
    parser.add_argument("--size", default="quick", choices=list(SETTINGS))
    parser.add_argument("--data", default=None, help=".npz with X (N, d) and y (N,) (default: scikit-learn digits)")
    parser.add_argument("--pca", type=int, default=None, help="project the user's X to this many PCA dimensions")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    print(run(Path(args.out), args.size, args.force, args.data, args.pca))
