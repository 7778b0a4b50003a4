"""README.md against what the code computes: generated spans, figures, and its Python blocks run as written.

The cheap experiments (4, 5, 6: SymPy designs and counts, well under a second of computing each) are
run here at quick size and compared exactly; the others are compared against ``results/quick`` when
a reproduction left it there (``make reproduce``), and skipped with that reason otherwise.
Refresh the README with ``moe-approx reproduce --quick --out results/quick --update-docs``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from moe_approx.reproduce import readme, runner

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
QUICK = ROOT / "results" / "quick"
FIGURES = ROOT / "docs" / "figures"
CHEAP = (4, 5, 6)
REFRESH = "run `make reproduce` (and `make test`), then `moe-approx reproduce --quick --out results/quick --update-docs`"


def _text():
    return README.read_text()


def test_every_span_has_a_renderer_and_every_renderer_a_span():
    found = readme.spans(_text())
    assert set(found) == set(readme.SPANS)
    assert all(body.strip() and body.strip() != "…" for body in found.values()), "a span was never generated"


def test_a_span_without_a_renderer_is_refused():
    with pytest.raises(ValueError, match="without a renderer"):
        readme.render("a <!-- g:exp99.slope -->-1.06<!-- /g --> b", QUICK)
    with pytest.raises(TypeError, match="readme_text"):
        readme.render(b"bytes", QUICK)


@pytest.fixture(scope="module")
def cheap_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    runner.run(out, size="quick", only=list(CHEAP))
    return out


def test_cheap_spans_equal_a_fresh_quick_run(cheap_run):
    text = _text()
    names = {"exp04.fits"}
    assert readme.render(text, cheap_run, names=names) == text, f"README span exp04.fits differs from a fresh quick run: {REFRESH}"


def test_cheap_figures_equal_a_fresh_quick_run(cheap_run):
    for png in readme.figures(cheap_run):
        assert (FIGURES / png.name).read_bytes() == png.read_bytes(), f"docs/figures/{png.name} is stale: {REFRESH}"


def _quick_names():
    if not QUICK.is_dir() or not list(QUICK.glob("exp*.json")):
        pytest.skip(f"no results in {QUICK}: {REFRESH}")
    src, names = readme.Source(QUICK), set()
    for name, fill in readme.SPANS.items():
        try:
            fill(src)
        except readme.MissingResults:
            continue
        names.add(name)
    return names


def test_spans_equal_results_quick():
    # "tests" describes the last `make test`, whose report each run rewrites at its end: not compared
    names = _quick_names() - {"tests"}
    text = _text()
    rendered = readme.render(text, QUICK, names=names)
    drift = [n for n in names if readme.spans(rendered)[n] != readme.spans(text)[n]]
    assert not drift, f"README spans {sorted(drift)} differ from results/quick: {REFRESH}"


def test_figures_are_those_of_results_quick():
    _quick_names()
    pngs = readme.figures(QUICK)
    assert sorted(p.name for p in FIGURES.glob("*.png")) == [p.name for p in pngs]
    stale = [p.name for p in pngs if (FIGURES / p.name).read_bytes() != p.read_bytes()]
    assert not stale, f"docs/figures/{stale} differ from results/quick: {REFRESH}"


def test_readme_shows_every_figure_and_only_existing_ones():
    shown = set(re.findall(r"\]\(docs/figures/([\w.]+\.png)\)", _text()))
    assert shown == {p.name for p in FIGURES.glob("*.png")}


def _blocks(text):
    """(skip reason or None, code) of every ```python block, in order."""
    pattern = re.compile(r"(?:<!-- not-run: (?P<why>[^>]*?) -->\n)?```python\n(?P<code>.*?)```", re.S)
    return [(m["why"], m["code"]) for m in pattern.finditer(text)]


def test_python_blocks_run_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks(_text())
    assert len(blocks) >= 4
    namespace: dict = {}
    for i, (why, code) in enumerate(blocks):
        compiled = compile(code, f"README.md python block {i}", "exec")
        if why is None:  # one namespace in order, as a reader running them top to bottom
            exec(compiled, namespace)
    assert [why for why, _ in blocks if why] == ["jax.distributed.initialize() waits for a cluster's coordinator"]


# ------------------------------------------------------------ the renderers on results with known values

def _write(folder: Path, stem: str, rows: list[dict], **sidecar):
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(str(r[k]) for k in header) for r in rows]
    (folder / f"{stem}.csv").write_text("\n".join(lines) + "\n")
    info = {"complete": True, "seconds": 1.0, "summary": {}, "settings": {}, "sha256": {f"{stem}.csv": ""}} | sidecar
    (folder / f"{stem}.json").write_text(json.dumps(info))


def test_exp01_table_states_the_fits_of_its_sidecar(tmp_path):
    from moe_approx.reproduce.exp01_error_vs_experts import slopes

    rows = [{"family": "constant", "n": 1, "target": "kink", "experts": L, "lower": 0.5 / L, "upper": 0.5 / L,
             "certified": True, "proven_bound": 0.5 / L, "theory_slope": -1.0} for L in (4, 8, 16)]
    rows += [{"family": "cpwl", "n": 3, "target": "kink", "experts": L, "lower": L ** -0.25, "upper": 2 * L ** -0.25,
              "certified": L == 8, "proven_bound": 4 * L ** -0.25, "theory_slope": -1 / 3} for L in (8, 64)]
    _write(tmp_path, "exp01_error_vs_experts", rows, summary={"slopes": slopes(rows)})
    src = readme.Source(tmp_path)
    assert readme.exp01_slopes(src).strip().splitlines()[2:] == [
        "| 1 | constant | kink | \u22121.00 | \u22121 | \u22121.00 | 1.00 | 3 of 3 |",
        "| 3 | cpwl | kink | 2 points, no fit | \u22121/3 | \u22120.25 | 0.35 | 1 of 2 |"]
    assert readme.exp01_uncertified(src) == "cpwl kink n = 3"
    _write(tmp_path, "exp01_error_vs_experts", rows)  # a sidecar from before the fits were stored
    with pytest.raises(readme.MissingResults, match="no slopes"):
        readme.exp01_slopes(readme.Source(tmp_path))


def test_tests_span_reads_the_junit_report(tmp_path):
    (tmp_path / "pytest.xml").write_text('<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="3" '
                                         'tests="120" time="303.6"/></testsuites>')
    assert readme.tests(readme.Source(tmp_path)) == "120 tests (3 skipped, 1 failed) in 5 min 4 s"


def test_formats():
    assert readme.g3(3.2149e-5) == "3.21e\u22125" and readme.g3(0.012849) == "0.0128"
    assert readme.slope(float("nan")) == "no fit" and readme.slope(-1.0) == "\u22121.00"


def test_update_rewrites_spans_and_makes_the_figure_folder_exact(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    results.mkdir(), figures.mkdir()
    rows = [{"activation": "relu", "m": m, "lower": 2.0 ** (-2 * m - 2), "upper": 2.0 ** (-2 * m - 2) * 1.5,
             "exact": 2.0 ** (-2 * m - 2), "certified": m < 3, "evaluations": 2 ** (m + 5) - 1 + (m == 3)} for m in (1, 2, 3)]
    _write(results, "exp07_yarotsky_square", rows, sha256={"exp07_yarotsky_square.csv": "", "exp07_yarotsky_square.png": ""})
    (results / "exp07_yarotsky_square.png").write_bytes(b"new")
    (figures / "exp07_yarotsky_square.png").write_bytes(b"old")
    (figures / "gone.png").write_bytes(b"stale")
    doc = tmp_path / "README.md"
    doc.write_text("x <!-- g:exp07.summary -->old<!-- /g --> y <!-- g:exp01.slopes -->kept<!-- /g -->")
    notes = readme.update(results, doc, figures)
    assert doc.read_text() == ("x <!-- g:exp07.summary -->contains 2^(\u22122m\u22122) for every m = 1, \u2026, 3 (ReLU and "
                               "PReLU), in 63\u2013256 evaluations; the certified ones have relative width \u2264 0.5; m = 3 stop short "
                               "of rtol"
                               "<!-- /g --> y <!-- g:exp01.slopes -->kept<!-- /g -->")
    assert len(notes) == 1 and notes[0].startswith("kept span exp01.slopes")
    assert sorted(p.name for p in figures.iterdir()) == ["exp07_yarotsky_square.png"]
    assert (figures / "exp07_yarotsky_square.png").read_bytes() == b"new"
    with pytest.raises(ValueError, match="readme"):
        readme.update(results, tmp_path / "missing.md", figures)
