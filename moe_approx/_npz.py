"""Writing a mixture to one ``.npz`` file (format in :mod:`moe_approx.io`): the manifest, the
checksum and the writer, below the mixture so that ``MixtureOfExperts.save`` needs nothing above it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

from ._version import __version__
from .partition import DyadicPartition, GridPartition, PrototypePartition

FORMAT = "moe_approx.mixture"
FORMAT_VERSION = 1


# --- partitions ------------------------------------------------------------------------------
def _partition_record(partition) -> tuple[dict, dict]:
    if isinstance(partition, GridPartition):
        return {"kind": "grid", "n": partition.n, "cells_per_side": partition.cells_per_side}, {}
    if isinstance(partition, DyadicPartition):
        return {"kind": "dyadic", "n": partition.n}, {"levels": partition.levels, "index": partition.index}
    if isinstance(partition, PrototypePartition):
        return ({"kind": "prototype", "n": partition.n, "router_count": partition.router_count},
                {"prototypes": partition.prototypes})
    raise TypeError(f"partition must be a GridPartition, DyadicPartition or PrototypePartition to be saved, "
                    f"got {type(partition).__name__}")


# --- generic values (certificate fields): arrays become entries, the rest JSON ---------------
def _encode(value, prefix: str, arrays: dict):
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        return value.item()
    if isinstance(value, np.ndarray) or hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        arrays[prefix] = np.asarray(value)
        return {"__array__": prefix}
    if isinstance(value, dict):
        return {str(k): _encode(v, f"{prefix}.{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{prefix}.{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a value of type {type(value).__name__} at {prefix!r}")


def _target_record(target) -> dict | None:
    if target is None:
        return None
    if hasattr(target, "components"):  # a vector target: its name and each component's record
        return {"name": target.name, "n": target.n, "m": target.m,
                "components": [_target_record(c) for c in target.components]}
    return {key: getattr(target, key, None)
            for key in ("name", "n", "alpha", "constant", "smoothness", "derivative_constant")}


def _checksum(manifest_bytes: bytes, arrays: dict) -> str:
    h = hashlib.sha256()
    h.update(manifest_bytes)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _as_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike naming a file, got {type(path).__name__}")
    return Path(path)


def write(moe, path, target=None) -> Path:
    """Write the mixture ``moe`` to ``path`` as :func:`moe_approx.io.save` says (which checks ``moe``)."""
    given = _as_path(path)
    path = given if given.suffix == ".npz" else given.with_name(given.name + ".npz")
    for candidate in (given, path):
        if candidate.is_dir():
            raise ValueError(f"path {str(candidate)!r} is an existing directory; pass a file name, "
                             f"e.g. {str(candidate / 'mixture.npz')!r}")
    target = target if target is not None else getattr(moe, "target", None)
    if target is not None and getattr(target, "n", moe.n) != moe.n:
        raise ValueError(f"target is defined on n={target.n} but the mixture on n={moe.n}")
    if target is not None and getattr(target, "m", 1) != moe.m:
        raise ValueError(f"target has m={getattr(target, 'm', 1)} outputs but the mixture {moe.m}")
    arrays = {}
    net = moe.experts
    for l, (w, b) in enumerate(net.layers):
        arrays[f"experts/W{l}"], arrays[f"experts/b{l}"] = np.asarray(w, np.float64), np.asarray(b, np.float64)
    for l, a in enumerate(net.slopes):
        arrays[f"experts/a{l}"] = np.asarray(a, np.float64)
    part_record, part_arrays = _partition_record(moe.partition)
    arrays.update({f"partition/{k}": np.asarray(v) for k, v in part_arrays.items()})
    certificate = getattr(moe, "certificate", None)
    cert_record = None
    if certificate is not None:
        fields = dataclasses.asdict(certificate) if dataclasses.is_dataclass(certificate) else dict(vars(certificate))
        cert_record = {"class": type(certificate).__name__, "fields": _encode(fields, "certificate", arrays),
                       "assumptions": _assumptions(target)}
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "library_version": __version__,
        "partition": part_record, "family": moe.family, "size": _encode(moe.size, "size", arrays),
        "activation": net.activation, "widths": list(net.widths), "depth": net.depth,
        "counts": {"num_experts": moe.num_experts, "expert_params": moe.expert_params,
                   "active_params": moe.active_params, "total_params": moe.total_params,
                   "total_nonzero": moe.total_nonzero},
        "target": _target_record(target), "certificate": cert_record,
        "arrays": sorted(arrays),
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    digest = _checksum(manifest_bytes, arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez(fh, manifest=np.frombuffer(manifest_bytes, np.uint8), checksum=np.frombuffer(digest.encode(), np.uint8),
                 **arrays)
    return path


def _assumptions(target) -> str:
    text = ("a certificate is conditional on the target's declared Hölder constants (docs/theory.md §5) and "
            "on the stated float64 rounding margin")
    if hasattr(target, "components"):
        return "; ".join(f"component {j}: " + _assumptions(c) for j, c in enumerate(target.components))
    if target is not None:
        text += f"; declared: alpha={target.alpha}, C={target.constant}"
        if getattr(target, "smoothness", None) is not None:
            text += f", s={target.smoothness}, D={target.derivative_constant}"
    return text
