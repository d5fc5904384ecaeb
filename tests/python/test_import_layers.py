"""The sub-packages of scdiffusion import each other in one direction only (read from the source with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "python" / "scdiffusion"

#: Imports made on first use (inside a function) that point "upwards" on purpose: the names
#: scdiffusion.metrics.evaluate / write_report / render_markdown and scdiffusion.metrics.report.write_report
#: were public before the suite moved to scdiffusion.evaluation, and the CLI and the R bridge still use them.
COMPAT_SHIMS = {("metrics", "evaluation")}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if is_package else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    if node.module is None:  # "from .. import evaluation": the names are modules
        return [f"{base}.{a.name}" for a in node.names]
    return [base]


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    if top_level_only:  # module level, including inside if/try blocks, but not inside functions or classes
        stack, nodes = list(ast.iter_child_nodes(tree)), []
        while stack:
            node = stack.pop()
            nodes.append(node)
            if isinstance(node, (ast.If, ast.Try)):
                stack.extend(ast.iter_child_nodes(node))
    else:
        nodes = list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out |= set(_resolve(module, is_package, node))
    return {m for m in out if m == "scdiffusion" or m.startswith("scdiffusion.")}


def _subpackage(module: str) -> str | None:
    """``scdiffusion.x.y`` -> ``x`` when ``x`` is a module or package (not a name like ``__version__``)."""
    parts = module.split(".")
    if len(parts) < 2 or not ((PKG / parts[1]).is_dir() or (PKG / f"{parts[1]}.py").exists()):
        return None
    return parts[1]


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        src = _subpackage(_module_name(path))
        if src is None:
            continue
        for target in _imports(path, top_level_only):
            dst = _subpackage(target)
            if dst is not None and dst != src:
                graph.setdefault(src, set()).add(dst)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:  # path ends with node
        state[node] = 1  # on the current path
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2  # done, no cycle through it
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_resolver_on_known_imports():
    assert "scdiffusion.metrics.inputs" in _imports(PKG / "plotting" / "qq.py", top_level_only=False)
    assert "scdiffusion.metrics" in _imports(PKG / "evaluation" / "catalogue.py", top_level_only=True)
    assert "scdiffusion.evaluation" in _imports(PKG / "metrics" / "__init__.py", top_level_only=False)
    assert "scdiffusion.evaluation" not in _imports(PKG / "metrics" / "__init__.py", top_level_only=True)


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["import time", "including lazy imports"])
def test_no_import_cycles_between_subpackages(top_level_only):
    graph = _graph(top_level_only)
    if not top_level_only:
        for src, dst in COMPAT_SHIMS:
            graph.get(src, set()).discard(dst)
    assert _cycle(graph) is None, f"import cycle between sub-packages: {_cycle(graph)}"


def test_layering_of_metrics_plotting_evaluation():
    lazy = _graph(top_level_only=False)
    eager = _graph(top_level_only=True)
    assert not {"plotting", "evaluation"} & eager.get("metrics", set())
    assert "plotting" not in lazy.get("metrics", set())
    assert "evaluation" not in lazy.get("plotting", set())
    assert "metrics" in eager["evaluation"] and "plotting" in lazy["evaluation"]
    assert (lazy.get("metrics", set()) - eager.get("metrics", set())) <= {"evaluation", "data"}
