"""The documentation reaches everything public: every Python export, every CLI command, every R export.

Cheap: reads source files only (no import of the package, no Sphinx build).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "python" / "scdiffusion"
DOCS = ROOT / "docs"

# module -> source file; modules without __all__ export their top-level public functions and classes
MODULES = {
    "scdiffusion": PKG / "__init__.py",
    "scdiffusion.metrics": PKG / "metrics" / "__init__.py",
    "scdiffusion.evaluation": PKG / "evaluation" / "__init__.py",
    "scdiffusion.plotting": PKG / "plotting" / "__init__.py",
    "scdiffusion.data": PKG / "data" / "__init__.py",
    "scdiffusion.datasets": PKG / "datasets.py",
    "scdiffusion.runtime": PKG / "runtime.py",
    "scdiffusion.atomic": PKG / "atomic.py",
    "scdiffusion.errors": PKG / "errors.py",
}


def public_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [n for n in ast.literal_eval(node.value) if not n.startswith("__")]
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def documented(module: str) -> set[str]:
    """Names listed under ``.. currentmodule:: <module>`` in the API pages' autosummary tables."""
    names: set[str] = set()
    for rst in (DOCS / "api").glob("*.rst"):
        current = None
        for line in rst.read_text().splitlines():
            m = re.match(r"\.\. currentmodule:: (\S+)", line)
            if m:
                current = m.group(1)
            elif current == module and re.match(r"^   [A-Za-z_][\w.]*$", line):
                names.add(line.strip())
    return names


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_python_export_in_the_api_reference(module):
    missing = sorted(set(public_names(MODULES[module])) - documented(module))
    assert not missing, f"add to docs/api/*.rst under '.. currentmodule:: {module}': {missing}"


def test_api_pages_in_the_index():
    index = (DOCS / "index.md").read_text()
    for page in ("api/index", "cli", "r-reference", "benchmarks", "auto_tutorials/index", "r-usage"):
        assert page in index, page
    api_index = (DOCS / "api" / "index.rst").read_text()
    for rst in (DOCS / "api").glob("*.rst"):
        if rst.stem != "index":
            assert rst.stem in api_index, rst.stem


def cli_commands() -> list[str]:
    tree = ast.parse((PKG / "cli.py").read_text())
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                func = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(func, ast.Attribute) and func.attr in ("command", "group"):
                    out.append(node.name)
    return out


def test_every_cli_command_in_the_cli_reference():
    text = (DOCS / "cli.rst").read_text()
    m = re.search(r"\.\. click:: scdiffusion\.cli:main\n((?:   :.*\n)*)", text)
    assert m, "docs/cli.rst must document scdiffusion.cli:main with sphinx-click"
    options = m.group(1)
    assert ":nested: full" in options  # every sub-command, with its options
    listed = re.search(r":commands: (.*)", options)
    commands = cli_commands()
    assert {"train", "generate", "interpolate", "evaluate", "quickstart"} <= set(commands)
    if listed:  # a :commands: list must not leave any out
        assert set(commands) <= {c.strip() for c in listed.group(1).split(",")}


def test_every_r_export_in_the_r_reference():
    sys.path.insert(0, str(DOCS))
    try:
        import r_reference
    finally:
        sys.path.remove(str(DOCS))
    exports = r_reference.r_exports(ROOT)
    text = r_reference.render(ROOT)  # raises when an export has no help page
    names = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.M))
    namespace = (ROOT / "NAMESPACE").read_text()
    expected = set(re.findall(r"^export(?:Classes|Methods)?\(([^)]+)\)", namespace, flags=re.M))
    assert expected and expected == {n for _, n in exports} == names
    assert "r-reference" in (DOCS / "index.md").read_text()
