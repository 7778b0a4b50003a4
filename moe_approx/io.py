"""Saving and loading mixtures: one ``.npz`` file, a JSON manifest and a SHA-256 checksum.

Layout of the file (``numpy.savez``, read back with ``allow_pickle=False``: loading never runs code):

- ``manifest``: the UTF-8 JSON manifest as a uint8 array (format and library version, partition
  kind and parameters, family and sizes, activation, widths, counts, target name and declared
  constants, the certificate's fields and the assumptions it rests on);
- ``checksum``: the hex SHA-256 (uint8) of the manifest and of every array (name, dtype, shape, bytes);
- ``experts/W{l}``, ``experts/b{l}``, ``experts/a{l}``: the stacked expert weights, biases and slopes,
  stored as float64 exactly as held (outputs after a load are bit-identical); the last width is the
  number of outputs m (a vector target's mixture; its target record lists the m components);
- ``partition/*`` and ``certificate.*``: the arrays of the partition and of the certificate.

The certificate is stored generically (its dataclass fields, arrays as entries), so fields added to
:class:`moe_approx.approximate.Certificate` later round-trip without a format change.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import zipfile
from pathlib import Path

import numpy as np

from ._npz import FORMAT, FORMAT_VERSION, _as_path, _checksum, write
from ._version import __version__
from .mlp import MLP
from .moe import MixtureOfExperts
from .partition import DyadicPartition, GridPartition, PrototypePartition


def _partition_from(record: dict, arrays: dict):
    kind = record.get("kind")
    if kind == "grid":
        return GridPartition(record["n"], record["cells_per_side"])
    if kind == "dyadic":
        return DyadicPartition(record["n"], _cells=(arrays["levels"].astype(np.int64), arrays["index"].astype(np.int64)))
    if kind == "prototype":
        return PrototypePartition(arrays["prototypes"], router_count=record.get("router_count", "tree"))
    raise ValueError(f"unknown partition kind {kind!r} in the manifest (known: grid, dyadic, prototype)")


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


# --- public ----------------------------------------------------------------------------------
def save(moe, path, target=None) -> Path:
    """Write ``moe`` to the file ``path``; return the path written.

    Suffix: a ``path`` ending in ``.npz`` is used as given; any other name gets ``.npz`` appended
    (``"m"`` -> ``m.npz``, ``"m.v2"`` -> ``m.v2.npz``); parent folders are created. ``path`` must
    name a file: an existing directory is refused (``ValueError``), never turned into
    ``<directory>.npz``. ``target`` (optional; else ``moe.target`` if set): its name and declared
    (α, C, s, D) are recorded, never its code. The certificate, if any, is stored with all its fields.
    """
    if not isinstance(moe, MixtureOfExperts):
        raise TypeError(f"moe must be a MixtureOfExperts, got {type(moe).__name__}")
    return write(moe, path, target)


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
                         f"{manifest.get('library_version')}; this moe_approx ({__version__}) reads format "
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
                             f"this moe_approx ({__version__})")
        extra = set(fields) - known
        if extra:
            raise ValueError(f"the certificate has fields {sorted(extra)} unknown to this moe_approx "
                             f"({__version__}); upgrade moe_approx to load it")
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
