"""Shared plumbing of the experiments: tidy CSV written row by row, JSON sidecar, skip-if-done."""

from __future__ import annotations

import csv
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path

SIZES = ("tiny", "quick", "full")
PACKAGES = ("moe_approx", "jax", "numpy", "scipy", "sympy", "matplotlib")


def versions() -> dict:
    return {p: version(p) for p in PACKAGES} | {"python": platform.python_version()}


class Results:
    """One experiment's tidy table ``<out>/<name>.csv`` and sidecar ``<name>.json``.

    Rows are appended and flushed as they complete, so an interrupted run keeps them; a run
    whose sidecar says ``complete`` with the same settings is skipped unless ``force``.
    """

    def __init__(self, out: Path, name: str, settings: dict, force: bool = False):
        self.csv, self.json = Path(out) / f"{name}.csv", Path(out) / f"{name}.json"
        self.settings, self.start = settings, time.time()
        self.csv.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(self.json.read_text()) if self.json.exists() else {}
        same = previous.get("settings") == json.loads(json.dumps(settings, default=str))  # as the sidecar stores it
        self.done = bool(not force and previous.get("complete") and same)
        self.rows: list[dict] = self.read() if self.done else []
        if not self.done:
            self.csv.unlink(missing_ok=True)
            self._sidecar(complete=False)

    def read(self) -> list[dict]:
        with self.csv.open() as fh:
            return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]

    def add(self, **row) -> None:
        new = not self.csv.exists()
        with self.csv.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        self.rows.append(row)

    def finish(self, **summary) -> None:
        self._sidecar(complete=True, **summary)

    def _sidecar(self, complete: bool, **summary) -> None:
        info = {"settings": self.settings, "versions": versions(), "seed": self.settings.get("seed", 0),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.start)),
                "seconds": round(time.time() - self.start, 3), "complete": complete, "summary": summary}
        self.json.write_text(json.dumps(info, indent=2, default=str))


def _parse(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def available_families(smooth: bool = False) -> list[str]:
    """Expert families registered in this checkout, in the order of THEORY.md §4: those for
    (α, C)-Hölder targets, and with ``smooth=True`` also those that need a smooth target (their
    module sets ``NEEDS_SMOOTHNESS``, e.g. yarotsky's Taylor experts)."""
    from moe_approx import experts

    names = experts.FAMILY_NAMES if smooth else experts.holder_families()
    return [f for f in ("constant", "cpwl", "yarotsky", "optimal") if f in names]


def design_row(d, **extra) -> dict:
    """A rates.Design as a flat CSV row."""
    return {"family": d.family, "activation": d.activation, "sizes": json.dumps(d.sizes), "K": d.cells_per_side,
            "experts": d.num_experts, "expert_params": d.expert_params, "active_params": d.active_params,
            "total_params": d.total_params, "depth": d.depth, "width": d.width,
            "error_bound": d.error_bound, **extra}
