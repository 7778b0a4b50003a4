"""Sphinx hooks of the moe_approx documentation (loaded by docs/conf.py).

- Citations ``docs/theory.md §5`` in docstrings and notebook text become links to the section's
  stable label ``theory-5`` (``(theory-5)=`` before each numbered heading of docs/theory.md).
- ``|`` in plain-text docstring maths (|f − Φ|) is escaped, so reST does not read substitutions.
- A class's data attributes (fields, annotations) are not listed as bare members: autodoc lists
  them even without ``undoc-members``, with no text; the class docstring describes them.
- viewcode's ``[docs]`` back-links point at documented anchors: a module's source page links back
  with the name of the first documentation that used it (``moe_approx.HolderTarget`` makes every
  back-link of ``moe_approx.targets`` read ``moe_approx.cone``); here every back-link uses the
  defining module, and a name documented only through its top-level alias gets that anchor too.
"""

import importlib
import json
import re
from functools import cached_property

# "docs/theory.md §2, §4.3 and §6–7": the file name, then numbers joined by , / and / – / -
# (on one line: the docstring hook sees one line at a time)
_NUMBER = r"§ ?\d+(?:\.\d+)*"
CITATION = re.compile(rf"docs/theory\.md(?: ?(?:,|and|–|-)? ?(?:{_NUMBER}|(?<=[–-])\d+(?:\.\d+)*))+")
_PART = re.compile(r"(§ ?)?(\d+(?:\.\d+)*)")
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")


def label(number: str) -> str:
    """The stable label of a section of docs/theory.md: '4.2' -> 'theory-4-2'."""
    return "theory-" + number.replace(".", "-")


def link_citations(text: str, role: str = ":ref:") -> str:
    """Every ``docs/theory.md §x`` citation of ``text`` as links (``role`` ":ref:" for reST,
    "{ref}" for MyST). The first number's link reads "docs/theory.md §x", later ones "§y"."""

    def one(match: re.Match) -> str:
        body, out, pos = match.group(0), [], 0
        for k, part in enumerate(_PART.finditer(body, len("docs/theory.md"))):
            start = 0 if k == 0 else part.start()
            title = body[start:part.end()]
            out += [body[pos:start], f"{role}`{title} <{label(part.group(2))}>`"]
            pos = part.end()
        return "".join(out)

    out, pos = [], 0
    for match in CITATION.finditer(text):
        out += [text[pos:match.start()], one(match)]
        pos = match.end()
        if role == ":ref:" and pos < len(text) and text[pos].isalnum():
            out.append("\\ ")  # reST inline markup must end before a non-word character
    return "".join(out) + text[pos:]


def _outside_literals(lines: list[str], edit) -> None:
    """Apply ``edit`` to the parts of each docstring line outside ``literals`` and doctests."""
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            in_doctest = True
        elif not stripped:
            in_doctest = False
        if in_doctest:
            continue
        parts = _LITERAL.split(line)
        lines[i] = "".join(p if k % 2 else edit(p) for k, p in enumerate(parts))


def _escape_bars(app, what, name, obj, options, lines):
    _outside_literals(lines, lambda s: s.replace("|", r"\|"))


def _link_docstring(app, what, name, obj, options, lines):
    _outside_literals(lines, link_citations)


def _link_notebook(app, docname, source):
    """Link the citations of a notebook's Markdown cells (code cells stay as they are)."""
    if not docname.startswith("_notebooks/"):
        return
    nb = json.loads(source[0])
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = link_citations(text, role="{ref}")
    source[0] = json.dumps(nb)


def _skip_bare_attributes(app, what, name, obj, skip, options):
    """Skip a class's data attributes (dataclass and namedtuple fields, annotations, constants):
    autodoc lists them without ``undoc-members`` but with no text; the class docstring's
    Parameters or Attributes describe them. Methods and properties stay."""
    if what == "class" and not skip:
        if not (callable(obj) or isinstance(obj, (property, cached_property, classmethod, staticmethod))):
            return True
    return None


def canonical_module(modname: str, fullname: str) -> str | None:
    """The module that defines ``modname.fullname`` (a re-export's home), or None."""
    try:
        obj = importlib.import_module(modname)
        for attr in fullname.split("."):
            obj = getattr(obj, attr)
    except (ImportError, AttributeError):
        return None
    return getattr(obj, "__module__", None)


def _alias_anchors(app, doctree):
    """Give a signature documented under a re-exporting module (``moe_approx.HolderTarget``) the
    anchor of its defining module too (``moe_approx.targets.HolderTarget``), unless that name is
    documented on its own."""
    from sphinx import addnodes

    signatures = list(doctree.findall(addnodes.desc_signature))
    ids = {i for sig in signatures for i in sig["ids"]}
    for sig in signatures:
        modname, fullname = sig.get("module"), sig.get("fullname")
        if not modname or not fullname:
            continue
        home = canonical_module(modname, fullname.split(".")[0])
        anchor = f"{home}.{fullname}"
        if home and home != modname and home.startswith(modname.split(".")[0] + ".") and anchor not in ids:
            sig["ids"].append(anchor)
            ids.add(anchor)


def _backlinks_by_defining_module(app, env):
    """viewcode writes back-links as ``<refname>.<name>``; make refname the source's own module."""
    modules = getattr(env, "_viewcode_modules", {})
    for modname, entry in modules.items():
        if entry:
            code, tags, used, _ = entry
            modules[modname] = (code, tags, used, modname)


def setup(app):
    app.connect("autodoc-skip-member", _skip_bare_attributes)
    app.connect("autodoc-process-docstring", _escape_bars, priority=100)  # before numpydoc
    app.connect("autodoc-process-docstring", _link_docstring, priority=600)  # on numpydoc's reST
    app.connect("source-read", _link_notebook)
    app.connect("doctree-read", _alias_anchors)
    app.connect("env-updated", _backlinks_by_defining_module)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
