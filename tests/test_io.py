"""Networks from anywhere: arrays in and out, mixtures from experts, save/load (bit-identical, damage refused)."""

import dataclasses
import json
import zipfile

import numpy as np
import pytest

import moe_approx as ma
from moe_approx import io

from nets import dense_grid


def _arrays(rng, widths, stack=()):
    weights = [rng.standard_normal(stack + (a, b)) for a, b in zip(widths[:-1], widths[1:])]
    biases = [rng.standard_normal(stack + (b,)) for b in widths[1:]]
    return weights, biases


def _numpy_forward(weights, biases, slopes, x):
    h = x
    for l, (w, b) in enumerate(zip(weights, biases)):
        h = h @ w + b
        if l < len(weights) - 1:
            h = np.maximum(h, 0) + slopes[l] * np.minimum(h, 0)
    return h


@pytest.mark.parametrize("activation", ["relu", "prelu"])
def test_from_arrays_evaluates_the_given_weights_and_to_arrays_inverts_it(activation):
    rng = np.random.default_rng(0)
    weights, biases = _arrays(rng, (3, 5, 4, 2))
    slopes = [rng.uniform(-1, 1, 5), 0.25] if activation == "prelu" else None
    net = ma.MLP.from_arrays(weights, biases, activation, slopes)
    x = rng.random((50, 3))
    full_slopes = [slopes[0], np.full(4, 0.25)] if slopes else [np.zeros(5), np.zeros(4)]
    np.testing.assert_allclose(np.asarray(net(x)), _numpy_forward(weights, biases, full_slopes, x), rtol=1e-13, atol=1e-13)
    arrays = net.to_arrays()
    again = ma.MLP.from_arrays(**arrays)
    assert np.array_equal(np.asarray(again(x)), np.asarray(net(x)))
    for a, b in zip(arrays["weights"], weights):
        assert np.array_equal(a, b)
    assert (arrays["slopes"] is None) == (activation == "relu")


def test_from_arrays_accepts_float32_and_torch_layout_after_transpose():
    rng = np.random.default_rng(1)
    torch_weights = [rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal((1, 4)).astype(np.float32)]
    biases = [np.zeros(4, np.float32), np.zeros(1, np.float32)]
    with pytest.raises(ValueError, match="transpose"):
        ma.MLP.from_arrays([torch_weights[0], torch_weights[1]], [np.zeros(2), np.zeros(4)])
    net = ma.MLP.from_arrays([w.T for w in torch_weights], biases)
    assert net.widths == (2, 4, 1) and np.asarray(net.layers[0][0]).dtype == np.float64


class _Tensor:
    """Stands in for a PyTorch tensor that requires grad: numpy() only after detach()."""

    def __init__(self, a):
        self.a = a

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a


def test_from_arrays_detaches_tensors():
    weights, biases = _arrays(np.random.default_rng(9), (2, 3, 1))
    net = ma.MLP.from_arrays([_Tensor(w) for w in weights], [_Tensor(b) for b in biases])
    assert all(np.array_equal(a, w) for a, w in zip(net.to_arrays()["weights"], weights))


@pytest.mark.parametrize("change, error, match", [
    (lambda w, b: (w, b[:1]), ValueError, "one entry per layer"),
    (lambda w, b: ([w[0], w[1][:3]], b), ValueError, r"weights\[1\]"),
    (lambda w, b: (w, [b[0], np.zeros(3)]), ValueError, r"biases\[1\]"),
    (lambda w, b: ([w[0], np.full_like(w[1], np.nan)], b), ValueError, r"weights\[1\] must be finite"),
    (lambda w, b: ([w[0].astype(complex), w[1]], b), TypeError, r"weights\[0\]"),
    (lambda w, b: ("W", b), TypeError, "weights"),
])
def test_from_arrays_errors_name_the_layer(change, error, match):
    weights, biases = _arrays(np.random.default_rng(2), (2, 4, 1))
    with pytest.raises(error, match=match):
        ma.MLP.from_arrays(*change(weights, biases))


def test_from_arrays_slope_checks():
    weights, biases = _arrays(np.random.default_rng(3), (2, 4, 1))
    with pytest.raises(ValueError, match="needs slopes"):
        ma.MLP.from_arrays(weights, biases, "prelu")
    with pytest.raises(ValueError, match="activation='prelu'"):
        ma.MLP.from_arrays(weights, biases, "relu", [np.ones(4)])
    with pytest.raises(ValueError, match=r"slopes\[0\]"):
        ma.MLP.from_arrays(weights, biases, "prelu", [np.ones(3)])


def test_from_experts_list_equals_stack_and_checks_architecture():
    rng = np.random.default_rng(4)
    part = ma.GridPartition(2, 2)
    nets = [ma.MLP.from_arrays(*_arrays(rng, (2, 3, 1))) for _ in range(4)]
    moe = ma.MixtureOfExperts.from_experts(part, nets)
    x = rng.random((200, 2))
    cells = np.asarray(part.locate(x))
    expected = np.array([np.asarray(nets[c](p))[0] for c, p in zip(cells, x)])
    np.testing.assert_allclose(np.asarray(moe(x)), expected, rtol=1e-14, atol=1e-14)  # summation order only
    stacked = ma.MixtureOfExperts.from_experts(part, moe.experts)
    np.testing.assert_array_equal(np.asarray(stacked(x)), np.asarray(moe(x)))
    with pytest.raises(ValueError, match=r"experts\[2\]"):
        ma.MixtureOfExperts.from_experts(part, nets[:2] + [ma.MLP.from_arrays(*_arrays(rng, (2, 5, 1)))] + nets[3:])
    with pytest.raises(ValueError, match="one MLP per cell"):
        ma.MixtureOfExperts.from_experts(part, nets[:3])
    with pytest.raises(ValueError, match="as_mixture"):
        ma.MixtureOfExperts.from_experts(part, nets[0])


def test_as_mixture_is_the_network_on_the_whole_cube():
    rng = np.random.default_rng(5)
    net = ma.MLP.from_arrays(*_arrays(rng, (3, 6, 1)))
    moe = ma.as_mixture(net)
    assert moe.num_experts == 1 and moe.total_params == net.num_params
    x = dense_grid(3, 6)
    np.testing.assert_allclose(np.asarray(moe(x)), np.asarray(net(x))[:, 0], rtol=1e-14, atol=1e-14)
    assert ma.as_mixture(moe) is moe
    with pytest.raises(TypeError):
        ma.as_mixture("net")


def test_hand_written_network_has_its_known_certified_error():
    """x ↦ σ(x − 1/2) against f = 0 on [0,1]: sup error = 1/2 exactly (at x = 1)."""
    net = ma.MLP.from_arrays([np.ones((1, 1)), np.ones((1, 1))], [np.array([-0.5]), np.zeros(1)])
    zero = ma.HolderTarget(lambda x: 0.0 * x[..., 0], 1, 1.0, 1e-9, "zero")
    report = ma.sup_error(zero, ma.as_mixture(net), rtol=1e-6)
    assert report.certified and report.lower <= 0.5 <= report.upper


def _mixtures():
    rng = np.random.default_rng(6)
    grid = ma.build_moe(ma.targets.get("cusp", n=2), ma.GridPartition(2, 3), expert="cpwl", k=2)
    dyadic = ma.DyadicPartition(2, 1).refine([0, 3])
    protos = ma.PrototypePartition(rng.random((6, 3)), router_count="prototypes")
    out = [grid]
    for part, act in ((dyadic, "prelu"), (protos, "relu")):
        w, b = _arrays(rng, (part.n, 4, 4, 1), (part.num_cells,))
        slopes = [rng.uniform(-1, 1, (part.num_cells, 4))] * 2 if act == "prelu" else None
        out.append(ma.MixtureOfExperts.from_experts(part, ma.MLP.from_arrays(w, b, act, slopes)))
    return out


@pytest.mark.parametrize("index", [0, 1, 2])
def test_save_load_round_trip_is_bit_identical(tmp_path, index):
    moe = _mixtures()[index]
    path = moe.save(tmp_path / "m")
    assert path.suffix == ".npz"
    back = ma.load(path)
    assert type(back.partition) is type(moe.partition)
    np.testing.assert_array_equal(np.concatenate(back.partition.all_bounds()), np.concatenate(moe.partition.all_bounds()))
    x = np.random.default_rng(7).random((3000, moe.n))
    assert np.array_equal(np.asarray(back(x)), np.asarray(moe(x)))
    for attr in ("num_experts", "active_params", "total_params", "total_nonzero", "family", "size", "activation"):
        assert getattr(back, attr) == getattr(moe, attr), attr
    if isinstance(moe.partition, ma.PrototypePartition):
        assert back.partition.router_count == "prototypes"
    with np.load(path, allow_pickle=False) as data:  # no object arrays anywhere
        assert all(data[k].dtype != object for k in data.files)


def test_certificate_and_target_round_trip(tmp_path):
    f = ma.targets.get("kink", n=1)
    moe = ma.approximate(f, eps=0.05, expert="cpwl")
    back = ma.load(moe.save(tmp_path / "c.npz", target=f))
    assert dataclasses.asdict(back.certificate).keys() == dataclasses.asdict(moe.certificate).keys()
    assert back.certificate.bound == moe.certificate.bound and back.certificate.rtol == moe.certificate.rtol
    np.testing.assert_array_equal(back.certificate.cell_bounds, moe.certificate.cell_bounds)
    assert back.target_info["name"] == "kink" and back.target_info["alpha"] == f.alpha
    assert back.target_info["constant"] == f.constant


def test_certificate_fields_added_later_round_trip(tmp_path, monkeypatch):
    import sys

    approximate_module = sys.modules["moe_approx.approximate"]

    @dataclasses.dataclass
    class Certificate:
        bound: float
        assumptions: dict
        margins: np.ndarray

    monkeypatch.setattr(approximate_module, "Certificate", Certificate)
    moe = _mixtures()[0]
    moe.certificate = Certificate(0.25, {"alpha": 0.5, "lipschitz": [1.0, np.inf]}, np.arange(4.0))
    back = ma.load(moe.save(tmp_path / "x.npz"))
    assert back.certificate.bound == 0.25 and back.certificate.assumptions == {"alpha": 0.5, "lipschitz": [1.0, np.inf]}
    np.testing.assert_array_equal(back.certificate.margins, np.arange(4.0))


def _rewrite(path, out, edit):
    """Copy an npz, letting ``edit`` change its entries (manifest as a dict), and re-seal the checksum
    if ``edit`` returns True."""
    with np.load(path, allow_pickle=False) as data:
        entries = {k: data[k] for k in data.files}
    manifest = json.loads(entries.pop("manifest").tobytes())
    reseal = edit(manifest, entries)
    checksum = entries.pop("checksum")
    mbytes = json.dumps(manifest, sort_keys=True).encode()
    if reseal:
        checksum = np.frombuffer(io._checksum(mbytes, entries).encode(), np.uint8)
    np.savez(out, manifest=np.frombuffer(mbytes, np.uint8), checksum=checksum, **entries)
    return out


def test_damaged_truncated_edited_and_newer_files_are_refused(tmp_path):
    moe = _mixtures()[0]
    path = moe.save(tmp_path / "ok.npz")
    raw = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="damaged or truncated"):
        ma.load(tmp_path / "trunc.npz")
    # flip one byte inside the stored weights: zip's CRC or the SHA-256 catches it
    offset = zipfile.ZipFile(path).getinfo("experts/W1.npy").header_offset + 200
    flipped = bytearray(raw)
    flipped[offset] ^= 0x01
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError):
        ma.load(tmp_path / "flip.npz")

    def edit_weight(manifest, entries):
        entries["experts/W0"] = entries["experts/W0"] + 1e-16

    with pytest.raises(ValueError, match="checksum mismatch"):
        ma.load(_rewrite(path, tmp_path / "edit.npz", edit_weight))

    def newer(manifest, entries):
        manifest["format_version"] = io.FORMAT_VERSION + 1
        return True

    with pytest.raises(ValueError, match="format version"):
        ma.load(_rewrite(path, tmp_path / "new.npz", newer))

    def wrong_counts(manifest, entries):
        manifest["counts"]["total_params"] += 1
        return True

    with pytest.raises(ValueError, match="counts"):
        ma.load(_rewrite(path, tmp_path / "counts.npz", wrong_counts))
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a moe_approx"):
        ma.load(tmp_path / "other.npz")


def test_prototype_router_counts():
    """Tree thresholds: L − 1 stored, ``depth`` per input; the paper's count: n·L stored, 2n per level."""
    rng = np.random.default_rng(8)
    p = rng.random((9, 3))
    tree, paper = ma.PrototypePartition(p), ma.PrototypePartition(p, router_count="prototypes")
    depth = tree.router_params_active
    assert 1 <= depth <= 8 and tree.router_params_total == 8
    assert paper.router_params_total == 27 and paper.router_params_active == 6 * depth
    x = rng.random((100, 3))
    np.testing.assert_array_equal(np.asarray(tree.locate(x)), np.asarray(paper.locate(x)))
    with pytest.raises(ValueError, match="router_count"):
        ma.PrototypePartition(p, router_count="voronoi")
