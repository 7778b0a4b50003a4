"""The documentation's cross references resolve (docs/theory.md, docs/api.md).

Docstrings, notebooks, the README and the experiments cite sections as ``docs/theory.md §x``;
every cited section must exist as a heading of docs/theory.md, and every public name of the
package must appear in the API reference.
"""

import re
from pathlib import Path

import moe_approx

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
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
