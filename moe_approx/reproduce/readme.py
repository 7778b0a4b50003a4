"""README text generated from a reproduction's results: ``moe-approx reproduce --update-docs``.

Every measured number in README.md sits between markers ``<!-- g:NAME -->…<!-- /g -->``; the text
between them is what the renderer ``NAME`` (:data:`SPANS`) writes from the CSV tables and JSON
sidecars in a results folder (``results/quick``), never typed by hand. Rounding: fitted log-log
slopes to 2 decimals with their sign, brackets and errors to 3 significant digits, accuracies to 3
decimals, ratios to 1 decimal, times to whole seconds.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .. import plotting
from ._common import _parse

MARK = re.compile(r"<!-- g:(?P<name>[\w.]+) -->(?P<body>.*?)<!-- /g -->", re.S)
MINUS = "\u2212"


class MissingResults(LookupError):
    """The results folder lacks a table, sidecar or test report a span needs."""


class Source:
    """The tables (rows) and sidecars of one results folder, read once each."""

    def __init__(self, results_dir):
        self.dir = Path(results_dir)
        self._cache: dict = {}

    def _file(self, name: str, how: str = "") -> Path:
        path = self.dir / name
        if not path.exists():
            raise MissingResults(f"{path} is missing: run {how or f'`moe-approx reproduce --quick --out {self.dir}`'}")
        return path

    def rows(self, stem: str) -> list[dict]:
        if ("rows", stem) not in self._cache:
            import csv
            with self._file(f"{stem}.csv").open() as fh:
                self._cache["rows", stem] = [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(fh)]
        return self._cache["rows", stem]

    def sidecar(self, stem: str) -> dict:
        if ("json", stem) not in self._cache:
            info = json.loads(self._file(f"{stem}.json").read_text())
            if not info.get("complete"):
                raise MissingResults(f"{self.dir / stem}.json is from an unfinished run")
            self._cache["json", stem] = info
        return self._cache["json", stem]


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def g3(value: float) -> str:
    """3 significant digits, typographic minus (``g3(3.2149e-5) == "3.21e−5"``)."""
    text = f"{value:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return _minus(text)


def slope(value: float) -> str:
    """A fitted slope: 2 decimals with sign, or "no fit" for nan."""
    return plotting.signed(value) if value == value else "no fit"


def bracket_fit(size, lower, upper=None) -> tuple[float, int]:
    """The slope the figures fit (:func:`moe_approx.plotting.rate_plot`): log-log least squares of the
    bracket's geometric mean against ``size``, nan below 3 points; and the number of points."""
    lower = np.asarray(lower, float)
    upper = lower if upper is None else np.asarray(upper, float)
    mid = np.sqrt(lower * upper) if np.all(upper < np.inf) else lower
    return (plotting.fit_slope(size, mid) if len(lower) >= 3 else float("nan")), len(lower)


def _fit_text(fit: float, points: int) -> str:
    return slope(fit) if fit == fit else f"{points} points, no fit"


def _true(value) -> bool:
    return value in (True, "True")


def _series(rows, *keys):
    """Rows grouped by ``keys`` in sorted order: [(key tuple, rows)]."""
    groups = sorted({tuple(r[k] for k in keys) for r in rows}, key=str)
    return [(g, [r for r in rows if tuple(r[k] for k in keys) == g]) for g in groups]


# ---------------------------------------------------------------- test suite and timings

def tests(src: Source) -> str:
    """Count and wall time of the last ``make test`` (its JUnit report ``pytest.xml``)."""
    root = ET.parse(src._file("pytest.xml", "`make test` (it writes that JUnit report)")).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    count, skipped = int(suite.get("tests")), int(suite.get("skipped", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    minutes, seconds = divmod(round(float(suite.get("time"))), 60)
    state = f", {failed} failed" if failed else ""
    return f"{count} tests ({skipped} skipped{state}) in {minutes} min {seconds} s"


def timing(src: Source) -> str:
    """Total and per-experiment seconds of the sidecars (the run that computed them)."""
    seconds = {p.stem: src.sidecar(p.stem)["seconds"] for p in sorted(src.dir.glob("exp*.json"))}
    if not seconds:
        raise MissingResults(f"no sidecars in {src.dir}")
    total = round(sum(seconds.values()))
    ranked = sorted(seconds.items(), key=lambda kv: -kv[1])
    top = ", ".join(f"{stem[:5]} {round(s)} s" for stem, s in ranked[:4])
    rest = f", the rest ≤ {math.ceil(ranked[4][1])} s each" if len(ranked) > 4 else ""
    return f"{total // 60} min {total % 60} s ({top}{rest})"


# ---------------------------------------------------------------- experiments

def exp01_slopes(src: Source) -> str:
    """Markdown table of exp01's fits as its sidecar stores them (:func:`~.exp01_error_vs_experts.slopes`):
    per series the fitted and the predicted slope, the range of slopes between neighbouring points
    and of the error over the proven bound, and how many brackets were certified."""
    fits = src.sidecar("exp01_error_vs_experts")["summary"].get("slopes")
    if not fits:
        raise MissingResults("exp01's sidecar has no slopes (an older run): rerun it with --force")
    lines = ["| n | family | target | fitted | predicted −α/n | between neighbours | error / proven bound | certified |",
             "|---|---|---|---|---|---|---|---|"]
    for f in fits:
        fitted = slope(f["fitted"]) if f["fitted"] is not None else f"{f['points']} points, no fit"
        low, high = (slope(f[k]) if f[k] is not None else "–" for k in ("local_min", "local_max"))
        ratio = sorted({f"{f[k]:.2f}" for k in ("bound_ratio_min", "bound_ratio_max")})
        lines.append(f"| {f['n']} | {f['family']} | {f['target']} | {fitted} | {plotting.fraction(f['predicted'])} | "
                     f"{low if low == high else f'{low} … {high}'} | {' … '.join(ratio)} | {f['certified']} of {f['points']} |")
    return "\n\n" + "\n".join(lines) + "\n\n"


def exp01_uncertified(src: Source) -> str:
    """The exp01 series with at least one uncertified bracket."""
    rows = src.rows("exp01_error_vs_experts")
    bad = [f"{f} {t} n = {n}" for (n, f, t), sel in _series(rows, "n", "family", "target")
           if not all(_true(r["certified"]) for r in sel)]
    return ", ".join(bad) if bad else "none"


def exp02_fits(src: Source) -> str:
    """Fitted slope of every exp02 series against nonzero counts, beside its proven bound's slope."""
    rows = src.rows("exp02_error_vs_expert_size")
    parts = []
    for (family, n, target), sel in _series(rows, "family", "n", "target"):
        fit, points = bracket_fit([r["expert_nonzero"] for r in sel], [r["lower"] for r in sel], [r["upper"] for r in sel])
        bound = sel[0]["theory_slope"]
        name = f"CPwL {target} n = {n}" if family == "cpwl" else f"Taylor n = {n}"
        parts.append(f"{name}: {_fit_text(fit, points)}" + (f" (bound {slope(bound)})" if bound == bound else ""))
    return "; ".join(parts)


def exp02_nonzero(src: Source) -> str:
    """The cpwl expert's nonzero counts in n = 2 per k."""
    sel = [r for r in src.rows("exp02_error_vs_expert_size") if r["family"] == "cpwl" and r["n"] == 2]
    sel = [r for i, r in enumerate(sel) if r["size"] not in [x["size"] for x in sel[:i]]]
    return (", ".join(str(r["expert_nonzero"]) for r in sel) + " for k = " + ", ".join(str(r["size"]) for r in sel))


def exp03_optimal(src: Source) -> str:
    """Active parameters of the optimal family's smallest design in exp03."""
    sel = [r["active_params"] for r in src.rows("exp03_tradeoff_frontier") if r["family"] == "optimal"]
    if not sel:
        raise MissingResults("exp03 has no optimal-family rows")
    return f"{min(sel):,}"


def exp03_prelu(src: Source) -> str:
    """Per family of exp03: in how many designs at the same (ε, r) PReLU has fewer, as many or more
    active parameters than ReLU."""
    rows = src.rows("exp03_tradeoff_frontier")
    relu = {(r["family"], r["eps"], r["r"]): r["active_params"] for r in rows if r["activation"] == "relu"}
    parts = []
    for (family,), sel in _series([r for r in rows if r["activation"] == "prelu"], "family"):
        signs = [np.sign(r["active_params"] - relu[k]) for r in sel if (k := (family, r["eps"], r["r"])) in relu]
        counts = [f"{word} in {signs.count(v)}" for word, v in (("fewer", -1), ("as many", 0), ("more", 1))
                  if signs.count(v)]
        parts.append(f"{family}: {', '.join(counts)} of {len(signs)}")
    if not parts:
        raise MissingResults("exp03 has no PReLU rows")
    return "; ".join(parts)


def exp04_fits(src: Source) -> str:
    """Markdown table of exp04's fits (those of its figure: asymptotic points only) and theory exponents."""
    from .exp04_params_vs_eps import fits

    fitted = fits(src.rows("exp04_params_vs_eps"))
    lines = []
    for count in ("active", "total"):
        for (family, r, c), (fit, theory, used, total) in sorted(fitted.items()):
            if c == count:
                shown = slope(fit) if fit == fit else "not fitted"
                lines.append(f"| {count} | {family} | {plotting.fraction(r).lstrip('+')} | {shown} | "
                             f"{plotting.fraction(theory)} | {used} of {total} |")
    head = "| count | family | r | fit | theory | points fitted |\n|---|---|---|---|---|---|\n"
    return "\n\n" + head + "\n".join(lines) + "\n\n"


def exp07_summary(src: Source) -> str:
    """Whether every exp07 bracket contains 2^(−2m−2), its evaluations, and the certified brackets' largest
    relative width."""
    rows = src.rows("exp07_yarotsky_square")
    inside = all(r["lower"] <= r["exact"] <= r["upper"] for r in rows)
    ms = sorted({r["m"] for r in rows})
    certified = [r for r in rows if _true(r["certified"])]
    width = max((r["upper"] - r["lower"]) / r["lower"] for r in certified) if certified else float("nan")
    missed = sorted({r["m"] for r in rows if not _true(r["certified"])})
    evals = [r["evaluations"] for r in rows]
    formula = all(r["evaluations"] == 2 ** (r["m"] + 5) - 1 for r in rows)
    text = (f"{'contains' if inside else 'does NOT always contain'} 2^(−2m−2) for every m = {ms[0]}, …, {ms[-1]} "
            f"(ReLU and PReLU), in {'2^(m+5) − 1' if formula else f'{min(evals)}–{max(evals)}'} evaluations; "
            f"the certified ones have relative width ≤ {g3(width)}")
    return text + (f"; m = {', '.join(map(str, missed))} stop short of rtol" if missed else "")


def exp08_fits(src: Source) -> str:
    """Fitted slopes of experts against ε per n, family and scheme in exp08, with the theory exponents."""
    rows = src.rows("exp08_adaptive_vs_uniform")
    parts = []
    for (n,), in_n in _series(rows, "n"):
        fits = []
        for scheme in ("adaptive", "uniform"):
            for (family,), sel in _series(in_n, "family"):
                sel = [r for r in sel if math.isfinite(r[f"{scheme}_experts"])]
                fit, points = bracket_fit([r["eps"] for r in sel], [r[f"{scheme}_experts"] for r in sel])
                fits.append(f"{family} {scheme} {_fit_text(fit, points)} "
                            f"({plotting.fraction(sel[0][f'theory_{scheme}'])})")
        parts.append(f"n = {n}: " + ", ".join(fits))
    return "; ".join(parts)


def exp08_coarsest(src: Source) -> str:
    """The uniform grid that certifies exp08's largest ε for constant experts in n = 2."""
    sel = [r for r in src.rows("exp08_adaptive_vs_uniform") if (r["family"], r["n"]) == ("constant", 2)]
    if not sel:
        raise MissingResults("exp08 has no constant rows in n = 2")
    r = max(sel, key=lambda r: r["eps"])
    return f"a {r['uniform_K']}×{r['uniform_K']} grid already certifies ε = {r['eps']:g}"


def exp09_slopes(src: Source) -> str:
    """exp09's float64 slopes of the measured error against nonzero parameters (its sidecar summary)."""
    summary = src.sidecar("exp09_optimal_rate")["summary"]
    parts = []
    for n in (1, 2):
        key = f"n={n} float64: lower vs nonzero"
        if key in summary:
            parts.append(f"{slope(summary[key])} (n = {n})")
    if not parts:
        raise MissingResults("exp09's sidecar has no float64 slopes")
    return " and ".join(parts)


EXP10_TARGETS = {"kink": "kink", "sine_product": {1: "sin(πx)", 2: "sin(πx₁)sin(πx₂)"}}
EXP10_MODELS = ("trained_moe", "trained_mlp", "constructed_moe")


def _target(name: str, n: int) -> str:
    plain = EXP10_TARGETS.get(name, name)
    return plain[n] if isinstance(plain, dict) else plain


def _exp10(src):
    rows = [r for r in src.rows("exp10_trained_regression") if r["run"] == 0]
    return {(r["n"], r["target"], r["model"]): r for r in rows}


def _bracket(r) -> str:
    text = f"[{g3(r['lower'])}, {g3(r['upper'])}]"
    return text + ("" if _true(r["certified"]) else " (budget ran out)")


def exp10_table(src: Source) -> str:
    """Markdown table of exp10's run-0 certified brackets per setting and model."""
    rows = _exp10(src)
    lines = ["| n, target | trained MoMLP | one trained MLP (±5 % params) | constructed (same total) |",
             "|---|---|---|---|"]
    for n, target in sorted({(n, t) for n, t, _ in rows}):
        name = _target(target, n)
        cells = [_bracket(rows[n, target, m]) for m in EXP10_MODELS]
        family = rows[n, target, "constructed_moe"]["design"].split()[0]
        lines.append(f"| {n}, {name} | {cells[0]} | {cells[1]} | {family}: {cells[2]} |")
    return "\n\n" + "\n".join(lines) + "\n\n"


def exp10_setup(src: Source) -> str:
    """exp10's trained mixture in n = 1: experts, width, depth, total parameters."""
    r, s = _exp10(src)[1, "kink", "trained_moe"], src.sidecar("exp10_trained_regression")["settings"]
    return f"{r['experts']} experts of width {s['width']}, depth {s['depth']}, {r['total_params']:,} parameters in all"


def exp10_ratios(src: Source) -> str:
    """Per n = 1 target: trained MoMLP's certified lower end over the constructed mixture's upper end."""
    rows = _exp10(src)
    parts = [f"{rows[1, t, 'trained_moe']['lower'] / rows[1, t, 'constructed_moe']['upper']:.1f}× ({_target(t, 1)})"
             for t in sorted({t for n, t, _ in rows if n == 1})]
    return " and ".join(parts)


def exp10_mlp_wins(src: Source) -> str:
    """In how many exp10 settings the MLP's upper end lies below the MoMLP's lower end."""
    rows = _exp10(src)
    settings = sorted({(n, t) for n, t, _ in rows})
    wins = sum(rows[n, t, "trained_mlp"]["upper"] < rows[n, t, "trained_moe"]["lower"] for n, t in settings)
    return f"in {wins} of {len(settings)} settings"


def exp10_n2_wins(src: Source) -> str:
    """In how many n = 2 settings of exp10 the trained MoMLP's upper end lies below the constructed one's lower end."""
    rows = _exp10(src)
    settings = sorted({t for n, t, _ in rows if n == 2})
    wins = sum(rows[2, t, "trained_moe"]["upper"] < rows[2, t, "constructed_moe"]["lower"] for t in settings)
    return f"{wins} of {len(settings)}"


def exp10_test_max(src: Source) -> str:
    """exp10 n = 1 kink MoMLP: test maximum error against the certified lower end."""
    r = _exp10(src)[1, "kink", "trained_moe"]
    return f"{g3(r['test_max_error'])} against a certified lower end {g3(r['lower'])}"


def _exp11(src):
    return src.sidecar("exp11_classification")["summary"]


def exp11_accuracy(src: Source) -> str:
    """exp11 accuracy mean ± std per L for the MoMLP and the MLP, with active and total parameters."""
    s = _exp11(src)
    Ls = sorted({int(k.split()[0][2:]) for k in s})
    parts = []
    for L in Ls:
        moe, mlp = s[f"L={L} trained_moe"], s[f"L={L} trained_mlp"]
        parts.append(f"L = {L}: MoMLP {moe['accuracy_mean']:.3f} ± {moe['accuracy_std']:.3f} ({moe['active_params']:,} of "
                     f"{moe['total_params']:,} parameters active) against {mlp['accuracy_mean']:.3f} ± {mlp['accuracy_std']:.3f}")
    return "; ".join(parts)


def exp11_loaded(src: Source) -> str:
    """Range over L of the MLP's parameters over the MoMLP's active parameters."""
    s = _exp11(src)
    ratios = [s[k.replace("moe", "mlp")]["active_params"] / v["active_params"] for k, v in s.items() if k.endswith("moe")]
    return f"{min(ratios):.1f}–{max(ratios):.1f}×"


def exp11_voronoi(src: Source) -> str:
    """Range of the k-d tree router's agreement with the nearest prototype."""
    values = [r["voronoi_agreement"] for r in src.rows("exp11_classification") if r["model"] == "trained_moe"]
    return f"{100 * min(values):.0f}–{100 * max(values):.0f} %"


SPANS = {"tests": tests, "timing": timing, "exp01.slopes": exp01_slopes, "exp01.uncertified": exp01_uncertified,
         "exp02.fits": exp02_fits, "exp02.nonzero": exp02_nonzero, "exp03.optimal": exp03_optimal, "exp03.prelu": exp03_prelu,
         "exp04.fits": exp04_fits, "exp07.summary": exp07_summary, "exp08.fits": exp08_fits, "exp08.coarsest": exp08_coarsest,
         "exp09.slopes": exp09_slopes, "exp10.table": exp10_table, "exp10.setup": exp10_setup,
         "exp10.ratios": exp10_ratios, "exp10.mlp_wins": exp10_mlp_wins, "exp10.n2_wins": exp10_n2_wins, "exp10.test_max": exp10_test_max,
         "exp11.accuracy": exp11_accuracy, "exp11.loaded": exp11_loaded, "exp11.voronoi": exp11_voronoi}
"""Renderer of each span name: ``render(Source) -> str``."""


def spans(readme_text: str) -> dict:
    """{name: text} of every generated span in ``readme_text``; ValueError for an unknown name."""
    found = {m["name"]: m["body"] for m in MARK.finditer(readme_text)}
    unknown = sorted(set(found) - set(SPANS))
    if unknown:
        raise ValueError(f"readme_text has generated spans without a renderer: {unknown}")
    return found


def render(readme_text: str, results_dir, names=None) -> str:
    """``readme_text`` with each generated span (those in ``names``, all by default) rewritten from
    the results in ``results_dir``; raises :class:`MissingResults` when a span's results are absent."""
    if not isinstance(readme_text, str):
        raise TypeError(f"readme_text must be a str, got {type(readme_text).__name__}")
    spans(readme_text)
    src = Source(results_dir)

    def fill(m):
        if names is not None and m["name"] not in names:
            return m[0]
        return f"<!-- g:{m['name']} -->{SPANS[m['name']](src)}<!-- /g -->"

    return MARK.sub(fill, readme_text)


def figures(results_dir) -> list[Path]:
    """The PNG figures a reproduction wrote to ``results_dir`` (those its complete sidecars record)."""
    src = Source(results_dir)
    out = [src.dir / name for p in sorted(src.dir.glob("exp*.json"))
           for name in src.sidecar(p.stem)["sha256"] if name.endswith(".png")]
    return sorted(out)


def update(results_dir, readme="README.md", figure_dir="docs/figures") -> list[str]:
    """Rewrite ``readme``'s generated spans from ``results_dir`` and make ``figure_dir`` hold exactly
    its PNG figures; spans whose results are missing are kept and named in the returned notes."""
    readme, figure_dir = Path(readme), Path(figure_dir)
    if not readme.is_file():
        raise ValueError(f"readme {readme} is not a file (run from a source checkout)")
    text, notes = readme.read_text(), []
    for name in spans(text):
        try:
            text = render(text, results_dir, names={name})
        except MissingResults as err:
            notes.append(f"kept span {name}: {err}")
    readme.write_text(text)
    pngs = figures(results_dir)
    figure_dir.mkdir(parents=True, exist_ok=True)
    for old in set(figure_dir.glob("*.png")) - {figure_dir / p.name for p in pngs}:
        old.unlink()
    for png in pngs:
        shutil.copyfile(png, figure_dir / png.name)
    return notes
