"""Shared plumbing of the experiments: tidy CSV written row by row, JSON sidecar with checksums, skip-if-done."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import time
import warnings
from importlib.metadata import version
from pathlib import Path

SIZES = ("tiny", "quick", "full")
PACKAGES = ("moe_approx", "jax", "numpy", "scipy", "sympy", "matplotlib", "optax", "scikit-learn")


def versions() -> dict:
    return {p: version(p) for p in PACKAGES} | {"python": platform.python_version()}


class StaleResultWarning(UserWarning):
    """A stored result could not be reused (missing, truncated, edited, or its sidecar unreadable)."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_digest(info: dict) -> str:
    """Hex SHA-256 of a sidecar's content: every field but the checksums, as its JSON stores it."""
    content = {k: v for k, v in info.items() if k not in ("sha256", "content_sha256")}
    stored = json.loads(json.dumps(content, default=str))  # the values a reader of the sidecar sees
    return hashlib.sha256(json.dumps(stored, sort_keys=True).encode()).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _stale(message: str) -> None:
    warnings.warn(message, StaleResultWarning, stacklevel=3)


class Results:
    """One experiment's tidy table ``<out>/<name>.csv`` and sidecar ``<name>.json``.

    Rows are appended and flushed as they complete, so an interrupted run keeps them. The sidecar
    (written to a temporary file, then renamed) says ``complete`` only after :meth:`finish`, and
    stores the SHA-256 of every output (the table, and the figures passed to :meth:`outputs`) and of
    its own content (``content_sha256``: settings, versions, summary, ...; :func:`content_digest`).
    A run is reused only if its sidecar is readable, ``complete``, has the same settings and its
    content checksum, and the table still has its recorded checksum; otherwise it is recomputed, with a
    :class:`StaleResultWarning` when a stored result was damaged. ``force`` recomputes without
    reading the old sidecar at all.
    """

    def __init__(self, out: Path, name: str, settings: dict, force: bool = False):
        self.out = Path(out)
        self.csv, self.json = self.out / f"{name}.csv", self.out / f"{name}.json"
        self.settings, self.start = settings, time.time()
        self.out.mkdir(parents=True, exist_ok=True)
        self.info: dict = {}
        self.done = False if force else self._reusable()
        self.rows: list[dict] = self.read() if self.done else []
        if not self.done:
            self._sidecar(complete=False)  # first, so that no sidecar says complete for a table being rewritten
            self.csv.unlink(missing_ok=True)

    def _reusable(self) -> bool:
        """Whether the stored table can be reused (module doc); warns when a stored result is damaged."""
        if not self.json.exists():
            return False
        try:
            previous = json.loads(self.json.read_text())
            if not isinstance(previous, dict):
                raise ValueError("not a JSON object")
        except (OSError, UnicodeDecodeError, ValueError) as err:
            _stale(f"sidecar {self.json} is unreadable ({err}); recomputing {self.csv.name}")
            return False
        if not previous.get("complete"):
            if self.csv.exists():
                _stale(f"{self.csv} is from an interrupted run; recomputing it")
            return False
        if previous.get("settings") != json.loads(json.dumps(self.settings, default=str)):  # as the sidecar stores it
            return False
        if previous.get("content_sha256") != content_digest(previous):
            why = ("differs from its content checksum (its summary or another field was edited)"
                   if "content_sha256" in previous else "records no content checksum (an older moe_approx wrote it)")
            _stale(f"sidecar {self.json} {why}; recomputing {self.csv.name}")
            return False
        hashes = previous.get("sha256")
        recorded = hashes.get(self.csv.name) if isinstance(hashes, dict) else None
        if recorded is None:
            _stale(f"sidecar {self.json} records no checksum of {self.csv.name}; recomputing it")
            return False
        if not self.csv.exists():
            _stale(f"{self.csv} is missing although its sidecar says complete; recomputing it")
            return False
        if sha256(self.csv) != recorded:
            _stale(f"{self.csv} differs from the checksum in its sidecar (truncated or edited); recomputing it")
            return False
        for file, digest in hashes.items():  # figures are redrawn from the table: say so if they were damaged
            path = self.out / file
            if file != self.csv.name and (not path.exists() or sha256(path) != digest):
                _stale(f"{path} is missing or differs from the checksum in its sidecar; redrawing it from {self.csv.name}")
        self.info = previous
        return True

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
        """Mark the run complete, with the table's checksum."""
        if not self.csv.exists():
            self.csv.write_text("")
        self._sidecar(complete=True, **summary)

    def outputs(self, figures: list[Path]) -> list[Path]:
        """Record the checksums of the figures drawn from the table; return every output path."""
        if self.info.get("complete"):
            self.info["sha256"] = {self.csv.name: self.info["sha256"][self.csv.name]} | {
                Path(p).name: sha256(p) for p in figures}
            write_atomic(self.json, json.dumps(self.info, indent=2, default=str))
        return [self.csv, self.json] + list(figures)

    def _sidecar(self, complete: bool, **summary) -> None:
        self.info = {"settings": self.settings, "versions": versions(), "seed": self.settings.get("seed", 0),
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.start)),
                     "seconds": round(time.time() - self.start, 3), "complete": complete, "summary": summary,
                     "sha256": {self.csv.name: sha256(self.csv)} if complete else {}}
        self.info["content_sha256"] = content_digest(self.info)
        write_atomic(self.json, json.dumps(self.info, indent=2, default=str))


def _parse(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def available_families(smooth: bool = False) -> list[str]:
    """Expert families registered in this checkout, in the order of docs/theory.md §4: those for
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
