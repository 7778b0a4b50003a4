"""Small defects at the edges (issue 18 item 7, issue 20): prototypes one ulp apart, argument types of
``from_experts``, damaged manifests, ``save`` into a directory, an edited sidecar summary, a closed
stdout pipe, reST in ``--help``, and the stray KeyboardInterrupt at the end of ``make test``."""

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx import cli

from test_io import _mixtures, _rewrite

ROOT = Path(__file__).resolve().parents[1]
UP = np.nextafter(0.5, 1.0)


# --- 1. PrototypePartition with prototypes one ulp apart -------------------------------------------

def _holders(part, x):
    """Cells holding each point under the half-open rule, spelled out over every cell (N, L) in numpy."""
    lo, hi = part.all_bounds()
    x = x[:, None, :]
    inside = (lo <= x) & ((x < hi) | ((hi == 1.0) & (x == 1.0)))
    return np.all(inside, axis=-1)


def _probe(part, per_side):
    """A dense grid plus, on each axis, every cell face, its float neighbours and every prototype coordinate."""
    lo, hi = part.all_bounds()
    axes = []
    for d in range(part.n):
        faces = np.concatenate([lo[:, d], hi[:, d], part.prototypes[:, d]])
        t = np.concatenate([np.linspace(0, 1, per_side + 1), faces, np.nextafter(faces, 0.0), np.nextafter(faces, 1.0)])
        axes.append(np.unique(np.clip(t, 0.0, 1.0)))
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, part.n)


def _check_routing(part, per_side=24):
    x = _probe(part, per_side)
    holders = _holders(part, x)
    assert np.all(holders.sum(axis=1) == 1), "a point lies in no cell or in two"
    assert np.array_equal(np.asarray(part.locate(x)), np.argmax(holders, axis=1))
    assert np.array_equal(np.asarray(part.locate(part.prototypes)), np.arange(part.num_cells))
    lo, hi = part.all_bounds()
    assert np.all(lo < hi)


@pytest.mark.parametrize("prototypes", [
    [[0.5, 0.5], [UP, 0.5]],
    [[0.5], [UP]],
    [[0.0], [np.finfo(np.float64).tiny]],                     # the midpoint is subnormal: XLA compares it as 0
    [[5e-324, 0.3], [0.5, 0.3]],                              # a subnormal coordinate routes as 0
    [[1.0, 0.1], [np.nextafter(1.0, 0.0), 0.9], [0.2, 0.5]],  # the median gap needs a threshold 1: the gap below
    [[1.0, 0.2], [np.nextafter(1.0, 0.0), 0.7]],              # ... or the other axis
    [[0.5, 0.5, 0.5], [UP, 0.5, 0.5], [0.5, UP, 0.5], [0.5, 0.5, UP], [0.1, 0.9, 0.4]],
])
def test_prototypes_one_ulp_apart_route_every_point_to_one_cell(prototypes):
    _check_routing(ma.PrototypePartition(np.array(prototypes)))


def test_prototypes_no_threshold_can_separate_are_refused():
    with pytest.raises(ValueError, match="prototypes must be distinct.*count as 0"):
        ma.PrototypePartition(np.array([[0.0], [5e-324]]))
    with pytest.raises(ValueError, match="only a threshold of 1 would separate them"):
        ma.PrototypePartition(np.array([[1.0, 0.2], [np.nextafter(1.0, 0.0), 0.2], [0.3, 0.9]]))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_random_near_duplicate_prototypes_tile_the_cube(n, L, seed):
    rng = np.random.default_rng(seed)
    base = rng.random((L, n))
    twins = np.nextafter(base, rng.choice([0.0, 1.0], size=base.shape))  # one ulp away on every axis
    _check_routing(ma.PrototypePartition(np.unique(np.concatenate([base, twins]), axis=0)), per_side=8)


# --- 2. from_experts names the argument of the wrong type -------------------------------------------

def test_from_experts_wrong_types_name_the_argument():
    part = ma.GridPartition(1, 2)
    nets = [ma.MLP.from_arrays([np.ones((1, 1))], [np.zeros(1)])] * 2
    for bad in (None, "grid", 2, nets):
        with pytest.raises(TypeError, match="^partition must be"):
            ma.MixtureOfExperts.from_experts(bad, nets)
    for bad in (None, 3, "ab", 2.5):
        with pytest.raises(TypeError, match="^experts must be"):
            ma.MixtureOfExperts.from_experts(part, bad)
    with pytest.raises(TypeError, match=r"^experts\[0\] must be an MLP"):
        ma.MixtureOfExperts.from_experts(part, [None, None])


# --- 3. load: every malformed file is a ValueError ---------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("saved")
    f = ma.targets.get("kink", n=1)
    mixtures = _mixtures() + [ma.approximate(f, eps=0.05, expert="cpwl")]  # grid, dyadic, prototype, certified
    return out, [m.save(out / f"m{i}.npz", target=f if m.n == 1 else None) for i, m in enumerate(mixtures)]


def test_load_refuses_npy_and_directories(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"single array \(\.npy\)"):
        ma.load(tmp_path / "a.npy")
    with pytest.raises(ValueError, match="directory"):
        ma.load(tmp_path)
    with pytest.raises(TypeError, match="^path must be"):
        ma.load(None)


def _set(path, value):
    def edit(manifest, entries):
        obj = manifest
        for key in path[:-1]:
            obj = obj[key]
        if value is _DELETE:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value
        return True  # re-seal the checksum: only the loader's own checks can catch it
    return edit


_DELETE = object()


@pytest.mark.parametrize("path, value, match", [
    (("depth",), 2, "depth 2"), (("depth",), 4, "depth 4"), (("depth",), 0, "depth 0"),  # the file stores depth 3 (("depth",), -2, "depth"),
    (("depth",), "2", "'depth' has type str"), (("depth",), True, "'depth' has type bool"),
    (("depth",), _DELETE, "no 'depth'"), (("activation",), _DELETE, "no 'activation'"),
    (("activation",), 3, "'activation' has type int"), (("partition",), _DELETE, "no 'partition'"),
    (("partition",), [], "'partition' has type list"), (("partition", "kind"), _DELETE, "unknown partition kind"),
    (("partition", "n"), _DELETE, "malformed"), (("partition", "cells_per_side"), "3", "cells_per_side"),
    (("counts",), _DELETE, "no 'counts'"), (("counts",), None, "'counts' has type NoneType"),
    (("family",), None, "'family' has type NoneType"), (("widths",), [2, 9, 1], "widths"),
    (("widths",), "abc", "'widths' has type str"), (("arrays",), "x", "'arrays' must be a list"),
    (("certificate",), [], "'certificate' has type list"), (("target",), 5, "'target' has type int"),
    (("size",), {"__array__": "nope"}, "malformed"), (("size",), {"__array__": [1]}, "malformed"),
])
def test_corrupt_manifest_is_a_value_error(saved, tmp_path, path, value, match):
    out = _rewrite(saved[1][0], tmp_path / "bad.npz", _set(path, value))
    with pytest.raises(ValueError, match=match):
        ma.load(out)


@pytest.mark.parametrize("key, value", [("fields", _DELETE), ("fields", [1, 2]), ("class", _DELETE),
                                        ("class", ["Certificate"]), ("fields", {"__array__": "certificate.gone"})])
def test_corrupt_certificate_record_is_a_value_error(saved, tmp_path, key, value):
    out = _rewrite(saved[1][3], tmp_path / "bad.npz", _set(("certificate", key), value))
    with pytest.raises(ValueError):
        ma.load(out)


JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3),
                 st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.sampled_from(["kind", "n", "__array__"]),
                                                                           st.integers(0, 3), max_size=2))


def _leaves(obj, prefix=()):
    """Every key path of a JSON value (the value itself first)."""
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield from _leaves(value, prefix + (key,))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3), st.data())
def test_random_manifest_corruptions_are_value_errors(saved, tmp_path_factory, which, data):
    """Any entry deleted or replaced by junk (checksum re-sealed), or any array reshaped or dropped:
    the load succeeds or raises ValueError, never KeyError, TypeError, IndexError or AttributeError."""
    path = saved[1][which]
    with np.load(path, allow_pickle=False) as npz:
        manifest = json.loads(npz["manifest"].tobytes())
        names = sorted(k for k in npz.files if k not in ("manifest", "checksum"))
    if data.draw(st.booleans()):
        key_path = data.draw(st.sampled_from([p for p in _leaves(manifest) if p and p[0] != "format"]))
        edit = _set(key_path, data.draw(st.one_of(st.just(_DELETE), JUNK)))
    else:
        name, how = data.draw(st.sampled_from(names)), data.draw(st.sampled_from(["drop", "reshape", "text"]))

        def edit(manifest, entries):
            if how == "drop":
                del entries[name]
                manifest["arrays"].remove(name)
            elif how == "reshape":
                entries[name] = np.append(entries[name], entries[name].ravel()[:1])
            else:
                entries[name] = entries[name].astype(str)
            return True
    out = _rewrite(path, tmp_path_factory.mktemp("fuzz") / "bad.npz", edit)
    try:
        ma.load(out)
    except ValueError:
        pass


# --- 4. save into a directory --------------------------------------------------------------------

def test_save_refuses_a_directory_and_states_its_suffix_rule(tmp_path):
    moe = _mixtures()[0]
    (tmp_path / "d").mkdir()
    (tmp_path / "e.npz").mkdir()
    for target in (tmp_path / "d", tmp_path / "e.npz", tmp_path / "e", str(tmp_path)):
        with pytest.raises(ValueError, match="existing directory"):
            moe.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "e.npz"]  # nothing written beside them
    assert moe.save(tmp_path / "m.v2") == tmp_path / "m.v2.npz"
    assert moe.save(tmp_path / "sub" / "m.npz") == tmp_path / "sub" / "m.npz"
    with pytest.raises(TypeError, match="^path must be"):
        moe.save(3)


# --- 5. an edited sidecar summary does not survive a rerun ----------------------------------------

def _summary_of_table(out):
    """exp11's summary recomputed from its CSV, as the JSON sidecar stores it."""
    from moe_approx.reproduce import _common, exp11_classification

    with (out / "exp11_classification.csv").open() as fh:
        rows = [{k: _common._parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    return json.loads(json.dumps(exp11_classification.summary(rows)))


def test_edited_sidecar_summary_is_recomputed(tmp_path):
    from moe_approx.reproduce import _common, runner

    runner.run(tmp_path, size="tiny", only=[11])
    sidecar = tmp_path / "exp11_classification.json"
    info = json.loads(sidecar.read_text())
    assert info["summary"] == _summary_of_table(tmp_path) and info["content_sha256"] == _common.content_digest(info)
    key = next(iter(info["summary"]))
    info["summary"][key]["accuracy_mean"] = -1.0  # an impossible accuracy; the table and its checksum untouched
    sidecar.write_text(json.dumps(info, indent=2))
    with pytest.warns(_common.StaleResultWarning, match="summary"):
        runner.run(tmp_path, size="tiny", only=[11])
    again = json.loads(sidecar.read_text())
    assert again["summary"] == _summary_of_table(tmp_path) and 0.0 <= again["summary"][key]["accuracy_mean"] <= 1.0


# --- 6. a reader that leaves early --------------------------------------------------------------

def _env():
    return {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}


def test_closed_stdout_pipe_exits_quietly():
    """``moe-approx targets --json | head -1`` with the reader gone before the first write: no
    BrokenPipeError traceback, exit status 141 (128 + SIGPIPE, as the shell reports a piped command)."""
    proc = subprocess.Popen([sys.executable, "-m", "moe_approx.cli", "targets", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), cwd=ROOT)
    proc.stdout.close()  # long before the command has imported JAX and printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err


# --- 7. help text without reST markup --------------------------------------------------------------

def _helps():
    """The help of ``moe-approx`` and of every subcommand, as printed."""
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, cli.argparse._SubParsersAction)).choices
    return {"": parser.format_help()} | {name: p.format_help() for name, p in commands.items()}


def test_help_is_plain_text():
    helps = _helps()
    assert set(helps) == {"", "reproduce", "rates", "design", "approximate", "targets"}
    for name, text in helps.items():
        assert "``" not in text and not cli._ROLE.search(text), (name, text)
    assert "Every subcommand takes --json (one JSON document" in helps[""]


def test_plain_keeps_the_text_of_roles_and_literals():
    text = "Run :func:`moe_approx.approximate` on :class:`~moe_approx.moe.MixtureOfExperts`, see :ref:`the rates <r>`; ``--n 2``."
    assert cli._plain(text) == "Run moe_approx.approximate on MixtureOfExperts, see the rates; --n 2."
    assert cli._plain("x_i = 1 and `code`: a * b") == "x_i = 1 and `code`: a * b"  # nothing else is touched


# --- 8. no stray KeyboardInterrupt when an xdist worker shuts down -------------------------------

SLOW_GARBAGE = '''
    import gc
    import time


    class Slow:
        def __del__(self):
            time.sleep(6)  # a finalizer (or a long gc pass on a loaded machine) that outlasts execnet's 5 s


    def test_leaves_slow_cyclic_garbage():
        gc.disable()  # only an explicit collection frees it: deterministic
        slow = Slow()
        slow.me = slow
        del slow
'''


@pytest.mark.slow  # ~10 s: a fresh pytest with one xdist worker, and the 6 s finalizer
def test_xdist_worker_collects_before_it_reports_back(tmp_path):
    """execnet sends a worker still busy 5 s after the controller shut it down a SIGINT; pytest's
    closing gc pass then ends the run with a KeyboardInterrupt traceback. The project's conftest
    collects before the worker reports back (tests/conftest.py, ``pytest_sessionfinish``)."""
    pytest.importorskip("xdist")
    (tmp_path / "test_slow.py").write_text(textwrap.dedent(SLOW_GARBAGE))
    env = _env() | {"PYTHONPATH": f"{ROOT}{':'}{ROOT / 'tests'}"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "-n", "1",
                           "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path / "test_slow.py")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "KeyboardInterrupt" not in done.stdout + done.stderr, done.stdout + done.stderr
