"""The documentation's cross references resolve (docs/theory.md, docs/api.md), and the docs build.

Docstrings, notebooks, the README and the experiments cite sections as ``docs/theory.md §x``;
every cited section must exist as a heading of docs/theory.md with its stable label, every
citation renders as a link to it, and every public name of the package has an API entry. The
HTML build (Sphinx, warnings as errors) must need no network: no script or style sheet from
another host, MathJax bundled, every internal link and anchor present.
"""

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import moe_approx

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
_spec = importlib.util.spec_from_file_location("moe_docs", ROOT / "docs" / "_ext" / "moe_docs.py")
moe_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(moe_docs)
CITATION = re.compile(r"(?:docs/theory\.md|THEORY\.md)((?:\s*(?:,|and|–|-)?\s*§\s*\d+(?:\.\d+)*)+)")


def _sections() -> set[str]:
    """Section numbers of docs/theory.md: '## 4. Explicit experts' -> '4', '### 4.2 ...' -> '4.2'."""
    return {m.group(1) for m in re.finditer(r"^#{2,3} (\d+(?:\.\d+)*)\.? ", THEORY.read_text(), re.M)}


def _cited() -> dict[str, set[str]]:
    files = [*ROOT.glob("moe_approx/**/*.py"), *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("experiments/*.py"),
             ROOT / "README.md"]
    cited = {}
    for path in files:
        for m in CITATION.finditer(path.read_text()):
            for number in re.findall(r"\d+(?:\.\d+)*", m.group(1)):
                cited.setdefault(number, set()).add(str(path.relative_to(ROOT)))
    return cited


def test_theory_keeps_the_section_numbers():
    sections = _sections()
    assert {"1", "2", "3", "4", "4.1", "4.2", "4.3", "4.4", "5", "6", "7", "8", "9"} <= sections


def test_every_cited_section_exists():
    cited, sections = _cited(), _sections()
    assert cited, "no citation found: the pattern no longer matches the sources"
    missing = {number: sorted(paths) for number, paths in cited.items() if number not in sections}
    assert not missing, f"cited sections missing from docs/theory.md: {missing}"


def test_api_reference_lists_every_public_name():
    api = (ROOT / "docs" / "api.md").read_text()
    names = [n for n in moe_approx.__all__ if n != "__version__"]
    assert not [n for n in names if f"moe_approx.{n}" not in api]
    section = api[api.index("automodule:: moe_approx.rates"):]
    rates = [n for n in moe_approx.rates.__all__ if not re.search(rf"(?::: |moe_approx\.rates\.|^ +){n}$", section, re.M)]
    assert not rates, f"rates names without an API entry: {rates}"


def test_numbered_sections_have_stable_labels():
    lines = THEORY.read_text().splitlines()
    numbered = [(i, m.group(1)) for i, line in enumerate(lines) if (m := re.match(r"#{2,3} (\d+(?:\.\d+)*)\.? ", line))]
    assert len(numbered) >= 14
    assert [lines[i - 1] for i, _ in numbered] == [f"({moe_docs.label(number)})=" for _, number in numbered]


def _unlink(text: str) -> str:
    """The text a reader sees: each :ref:`title <label>` as its title."""
    return re.sub(r":ref:`([^`<]*) <[^`>]*>`(\\ )?", r"\1", text)


def test_citations_become_links_to_existing_labels():
    labels = set(re.findall(r"^\((theory-[\d-]+)\)=$", THEORY.read_text(), re.M))
    texts = [path.read_text() for path in ROOT.glob("moe_approx/**/*.py")]  # every docstring's citations
    texts += ["see docs/theory.md §2, §4.3 and §6–7, then", "(docs/theory.md §5)x"]
    found = 0
    for text in texts:
        linked = moe_docs.link_citations(text)
        assert _unlink(linked) == text  # only markup added, nothing lost
        targets = re.findall(r":ref:`[^`<]*<([^`>]*)>`", linked)
        numbers = [n for m in moe_docs.CITATION.finditer(text) for n in re.findall(r"\d+(?:\.\d+)*", m.group(0))]
        assert targets == [moe_docs.label(n) for n in numbers]
        assert set(targets) <= labels, set(targets) - labels
        found += len(targets)
    assert found > 100
    sections = [m.group(0).count("§") for text in texts for m in moe_docs.CITATION.finditer(text)]
    assert sum(sections) == sum(m.group(1).count("§") for text in texts for m in CITATION.finditer(text)), \
        "a citation broken across lines is not linked: keep 'docs/theory.md §x' on one line"
    assert moe_docs.link_citations("see docs/theory.md §2, §4.3 and §6–7, then") == (
        "see :ref:`docs/theory.md §2 <theory-2>`, :ref:`§4.3 <theory-4-3>` and "
        ":ref:`§6 <theory-6>`–:ref:`7 <theory-7>`, then")
    assert moe_docs.link_citations("(docs/theory.md §5)x") == "(:ref:`docs/theory.md §5 <theory-5>`)x"
    assert moe_docs.link_citations("docs/theory.md §5x") == ":ref:`docs/theory.md §5 <theory-5>`\\ x"


def _public_names(module) -> list[str]:
    if hasattr(module, "__all__"):
        return [n for n in module.__all__ if n != "__version__"]
    return [n for n, obj in vars(module).items() if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module.__name__]


def _documented_modules() -> list[str]:
    """The modules of the API reference (all but the CLI and the experiment scripts)."""
    names = re.findall(r"automodule:: (moe_approx[\w.]*)", (ROOT / "docs" / "api.md").read_text())
    assert {"moe_approx.rates", "moe_approx.train", "moe_approx.io", "moe_approx.targets", "moe_approx.calculus",
            "moe_approx.experts", "moe_approx.assumptions"} <= set(names)
    return names


@pytest.mark.slow
def test_docs_build_offline_with_warnings_as_errors(tmp_path):
    """The HTML build (notebooks rendered without running: tests/test_notebooks.py runs them)."""
    for module in ("sphinx", "numpydoc", "myst_nb", "sphinx-mathjax-offline"):
        pytest.importorskip(module)
    out = tmp_path / "html"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-D", "nb_execution_mode=off", "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-5000:]

    pages = {path: path.read_text() for path in out.rglob("*.html")}
    remote = [(str(p.relative_to(out)), m) for p, t in pages.items()
              for m in re.findall(r"<(?:script|link|img)[^>]*(?:src|href)=\"(?:https?:)?//[^\"]*\"", t)]
    assert not remote, remote[:5]
    assert (out / "_static" / "mathjax" / "tex-chtml.js").is_file()
    theory = pages[out / "theory.html"]
    assert 'class="math' in theory and 'src="_static/mathjax/tex-chtml.js"' in theory

    ids = {p: set(re.findall(r'id="([^"]*)"', t)) for p, t in pages.items()}
    broken = []
    for page, text in pages.items():
        for href, anchor in re.findall(r'href="([^"#?:]*)(?:\?[^"#]*)?(?:#([^"]*))?"', text):
            target = (page.parent / href).resolve() if href else page
            if not target.exists() or (anchor and target.suffix == ".html" and anchor not in ids[target]):
                broken.append((str(page.relative_to(out)), href, anchor))
    assert not broken, broken[:10]  # viewcode's [docs] back-links included

    api = pages[out / "api.html"]
    assert "theory.html#theory-5" in api and "theory.html#theory-4-2" in api
    prose = re.sub(r"<a [^>]*>.*?</a>|<pre>.*?</pre>", "", api, flags=re.S)  # code examples keep plain comments
    assert not re.findall(r"docs/theory\.md\s*§\s*\d", prose), "citations rendered as plain text"
    entries, top = ids[out / "api.html"], set(moe_approx.__all__)
    missing = [f"{name}.{n}" for name in _documented_modules() for n in _public_names(importlib.import_module(name))
               if f"{name}.{n}" not in entries and not (n in top and f"moe_approx.{n}" in entries)]
    assert not missing, f"public names without an API entry: {missing}"
