"""Saving and loading mixtures: one ``.npz`` file, a JSON manifest and a SHA-256 checksum.

Layout of the file (``numpy.savez``, read back with ``allow_pickle=False``: loading never runs code):

- ``manifest``: the UTF-8 JSON manifest as a uint8 array (format and library version, partition
  kind and parameters, family and sizes, activation, widths, counts, target name and declared
  constants, the certificate's fields and the assumptions it rests on);
- ``checksum``: the hex SHA-256 (uint8) of the manifest and of every array (name, dtype, shape, bytes);
- ``experts/W{l}``, ``experts/b{l}``, ``experts/a{l}``: the stacked expert weights, biases and slopes,
  stored as float64 exactly as held (outputs after a load are bit-identical);
- ``partition/*`` and ``certificate.*``: the arrays of the partition and of the certificate.

The certificate is stored generically (its dataclass fields, arrays as entries), so fields added to
:class:`moe_approx.approximate.Certificate` later round-trip without a format change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "moe_approx.mixture"
FORMAT_VERSION = 1


def _library_version() -> str:
    from . import __version__

    return __version__


# --- partitions ------------------------------------------------------------------------------
def _partition_record(partition) -> tuple[dict, dict]:
    from .partition import DyadicPartition, GridPartition, PrototypePartition

    if isinstance(partition, GridPartition):
        return {"kind": "grid", "n": partition.n, "cells_per_side": partition.cells_per_side}, {}
    if isinstance(partition, DyadicPartition):
        return {"kind": "dyadic", "n": partition.n}, {"levels": partition.levels, "index": partition.index}
    if isinstance(partition, PrototypePartition):
        return ({"kind": "prototype", "n": partition.n, "router_count": partition.router_count},
                {"prototypes": partition.prototypes})
    raise TypeError(f"partition must be a GridPartition, DyadicPartition or PrototypePartition to be saved, "
                    f"got {type(partition).__name__}")


def _partition_from(record: dict, arrays: dict):
    from .partition import DyadicPartition, GridPartition, PrototypePartition

    kind = record.get("kind")
    if kind == "grid":
        return GridPartition(record["n"], record["cells_per_side"])
    if kind == "dyadic":
        return DyadicPartition(record["n"], _cells=(arrays["levels"].astype(np.int64), arrays["index"].astype(np.int64)))
    if kind == "prototype":
        return PrototypePartition(arrays["prototypes"], router_count=record.get("router_count", "tree"))
    raise ValueError(f"unknown partition kind {kind!r} in the manifest (known: grid, dyadic, prototype)")


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


def _decode(value, arrays: dict):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def _target_record(target) -> dict | None:
    if target is None:
        return None
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


# --- public ----------------------------------------------------------------------------------
def save(moe, path, target=None) -> Path:
    """Write ``moe`` to the file ``path``; return the path written.

    Suffix: a ``path`` ending in ``.npz`` is used as given; any other name gets ``.npz`` appended
    (``"m"`` -> ``m.npz``, ``"m.v2"`` -> ``m.v2.npz``); parent folders are created. ``path`` must
    name a file: an existing directory is refused (``ValueError``), never turned into
    ``<directory>.npz``. ``target`` (optional; else ``moe.target`` if set): its name and declared
    (α, C, s, D) are recorded, never its code. The certificate, if any, is stored with all its fields.
    """
    from .moe import MixtureOfExperts

    if not isinstance(moe, MixtureOfExperts):
        raise TypeError(f"moe must be a MixtureOfExperts, got {type(moe).__name__}")
    given = _as_path(path)
    path = given if given.suffix == ".npz" else given.with_name(given.name + ".npz")
    for candidate in (given, path):
        if candidate.is_dir():
            raise ValueError(f"path {str(candidate)!r} is an existing directory; pass a file name, "
                             f"e.g. {str(candidate / 'mixture.npz')!r}")
    target = target if target is not None else getattr(moe, "target", None)
    if target is not None and getattr(target, "n", moe.n) != moe.n:
        raise ValueError(f"target is defined on n={target.n} but the mixture on n={moe.n}")
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
        "format": FORMAT, "format_version": FORMAT_VERSION, "library_version": _library_version(),
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
    if target is not None:
        text += f"; declared: alpha={target.alpha}, C={target.constant}"
        if getattr(target, "smoothness", None) is not None:
            text += f", s={target.smoothness}, D={target.derivative_constant}"
    return text


def _read(path: Path) -> tuple[dict, dict]:
    """Manifest and arrays of a file, with every damage turned into a ValueError that says what."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a moe_approx mixture file (.npz written by save)")
    try:
        data = np.load(path, allow_pickle=False)
        single = not isinstance(data, np.lib.npyio.NpzFile)
        if not single:
            with data:
                contents = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, NotImplementedError, RuntimeError,
            UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a readable moe_approx file (damaged or truncated .npz: {exc})") from None
    if single:
        raise ValueError(f"{path} holds a single array (.npy), not a moe_approx mixture file (.npz written by save)")
    if "manifest" not in contents or "checksum" not in contents:
        raise ValueError(f"{path} is not a moe_approx mixture file (no manifest or checksum entry)")
    manifest_bytes = contents.pop("manifest").tobytes()
    stored = contents.pop("checksum").tobytes().decode(errors="replace")
    try:
        manifest = json.loads(manifest_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: the manifest is not valid JSON ({exc}); the file is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"{path} is not a moe_approx mixture file (format {found!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in format version {version!r} by moe_approx "
                         f"{manifest.get('library_version')}; this moe_approx ({_library_version()}) reads format "
                         f"versions up to {FORMAT_VERSION}: upgrade moe_approx to load it")
    if _checksum(manifest_bytes, contents) != stored:
        raise ValueError(f"{path}: checksum mismatch (SHA-256 of the manifest and arrays differs from the stored one); "
                         "the file is damaged or was edited")
    listed = manifest.get("arrays", [])
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        raise ValueError(f"{path}: the manifest's 'arrays' must be a list of entry names; the file is damaged")
    missing = set(listed) ^ set(contents)
    if missing:
        raise ValueError(f"{path}: arrays {sorted(missing)} do not match the manifest; the file is damaged")
    return manifest, contents


# the manifest entries load() reads, with their JSON types
_SCHEMA = {"depth": int, "activation": str, "family": str, "partition": dict, "counts": dict, "widths": list,
           "certificate": (dict, type(None)), "target": (dict, type(None))}


def _check_manifest(manifest: dict, arrays: dict) -> None:
    """Refuse (ValueError) a manifest whose entries load() reads are missing, of the wrong type, or
    disagree with the stored expert layers."""
    for key, kind in _SCHEMA.items():
        if key not in manifest:
            raise ValueError(f"the manifest has no {key!r} entry")
        if not isinstance(manifest[key], kind) or isinstance(manifest[key], bool):
            raise ValueError(f"the manifest's {key!r} has type {type(manifest[key]).__name__}")
    depth = manifest["depth"]
    expected = {f"experts/{kind}{l}" for l in range(depth) for kind in "Wb"} | {f"experts/a{l}" for l in range(depth - 1)}
    stored = {name for name in arrays if name.startswith("experts/")}
    if depth < 1 or stored != expected:
        raise ValueError(f"the manifest says depth {depth} but the file stores the expert arrays {sorted(stored)}")


def _rebuild(manifest: dict, arrays: dict):
    """The mixture (with its certificate) a checked manifest describes; errors as ValueError without the path."""
    import importlib

    from .mlp import MLP
    from .moe import MixtureOfExperts

    _check_manifest(manifest, arrays)
    depth = manifest["depth"]
    net = MLP(tuple((arrays[f"experts/W{l}"], arrays[f"experts/b{l}"]) for l in range(depth)),
              tuple(arrays[f"experts/a{l}"] for l in range(depth - 1)), manifest["activation"])
    if list(net.widths) != manifest["widths"]:
        raise ValueError(f"the stored experts have widths {list(net.widths)} but the manifest says {manifest['widths']}")
    partition = _partition_from(manifest["partition"],
                                {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("partition/")})
    moe = MixtureOfExperts(partition, net, manifest["family"], _decode(manifest.get("size"), arrays))
    counts = {"num_experts": moe.num_experts, "expert_params": moe.expert_params, "active_params": moe.active_params,
              "total_params": moe.total_params, "total_nonzero": moe.total_nonzero}
    if counts != manifest["counts"]:
        raise ValueError(f"counts after loading {counts} differ from the manifest's {manifest['counts']}")
    cert = manifest["certificate"]
    if cert is not None:
        fields = _decode(cert["fields"], arrays)
        if not isinstance(fields, dict):
            raise ValueError(f"the certificate's fields must be a mapping, got {type(fields).__name__}")
        # the module, not the function ``moe_approx.approximate`` that shadows it on the package
        cls = getattr(importlib.import_module("moe_approx.approximate"), str(cert["class"]), None)
        known = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else None
        if known is None or not {f.name for f in dataclasses.fields(cls)
                                 if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING} <= set(fields):
            raise ValueError(f"the certificate ({cert['class']}, fields {sorted(fields)}) cannot be rebuilt by "
                             f"this moe_approx ({_library_version()})")
        extra = set(fields) - known
        if extra:
            raise ValueError(f"the certificate has fields {sorted(extra)} unknown to this moe_approx "
                             f"({_library_version()}); upgrade moe_approx to load it")
        moe.certificate = cls(**fields)
    moe.target_info = manifest["target"]
    return moe


def load(path):
    """The :class:`MixtureOfExperts` saved at ``path`` (see :func:`save`), with its certificate.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    MixtureOfExperts
        The mixture, with ``certificate`` (the saved :class:`~moe_approx.Certificate`, if any) and
        ``target_info``: the saved target record (name and declared constants), or None.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        Saying what is wrong for a directory, a ``.npy`` file, or a damaged, truncated, edited or
        newer-format file, including a manifest (checksum intact) whose entries are missing, of the
        wrong type or inconsistent with the stored arrays.

    Examples
    --------
    >>> import os, tempfile
    >>> import moe_approx as ma
    >>> f = ma.targets.get("kink", n=1)
    >>> moe = ma.approximate(f, 0.1, expert="constant", progress=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     back = ma.load(ma.io.save(moe, os.path.join(tmp, "kink"), target=f))
    >>> back.num_experts == moe.num_experts, back.certificate.bound == moe.certificate.bound
    (True, True)
    >>> back.target_info["name"], back.target_info["constant"]
    ('kink', 1.0)
    """
    path = _as_path(path)
    manifest, arrays = _read(path)
    try:
        return _rebuild(manifest, arrays)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as err:
        what = str(err) if isinstance(err, ValueError) else f"the manifest is malformed ({type(err).__name__}: {err})"
        raise ValueError(f"{path}: {what}") from err
