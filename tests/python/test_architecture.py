"""The package's layout rules, checked on the source: no import cycles, tensors-only layers, small files.

Imports are read statically (``ast``), function-level imports included (they are cycles too, only deferred);
imports under ``if TYPE_CHECKING:`` are skipped (they never run).
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "python"
PACKAGE = SRC / "scdiffusion"
#: layers that see tensors only: no AnnData, no data or model layer
TENSOR_LAYERS = ("module", "nn", "diffusion", "train")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports (at any depth of its code)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(node):
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__" and path.name == "__init__.py":
            return  # a package's lazy (deprecated) aliases resolve on first use, never at import
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    # importing a.b.c runs the __init__ of a.b too (not the root package's: its lazy accessors load on use)
    out |= {".".join(m.split(".")[:i]) for m in set(out) for i in range(2, m.count(".") + 1)}
    return {m for m in out if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {m: _imports(p, modules) for m, p in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles():
    graph = _graph()
    # a module importing (through) its own package is the usual package pattern, not a cycle
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    assert _cycles(graph) == []


def test_evaluation_sits_above_metrics_and_plotting():
    """metrics/ (the measures) never import plotting/ or evaluation/; plotting/ never imports evaluation/."""
    graph = _graph()
    layer = lambda m: m.split(".")[1] if m.count(".") else ""  # noqa: E731
    uses = {}
    for m, deps in graph.items():
        uses.setdefault(layer(m), set()).update(layer(d) for d in deps)
    assert not {"plotting", "evaluation"} & uses["metrics"]
    assert "evaluation" not in uses["plotting"]
    assert {"metrics", "plotting"} <= uses["evaluation"]


@pytest.mark.parametrize("layer", TENSOR_LAYERS)
def test_tensor_layers_never_touch_anndata_or_the_data_and_model_layers(layer):
    forbidden = ("anndata", "scanpy", "scdiffusion.data", "scdiffusion.model", "scdiffusion.metrics")
    for path in (PACKAGE / layer).rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | \
            {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        relative = {("scdiffusion." + n.module) for n in ast.walk(tree)
                    if isinstance(n, ast.ImportFrom) and n.level == 2 and n.module}
        bad = [n for n in names | relative if n.startswith(forbidden)]
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_no_python_file_over_400_lines():
    long = {str(p.relative_to(SRC)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these files (one concept per file): {long}"
