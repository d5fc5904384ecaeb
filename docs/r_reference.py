"""Write the R reference page (``docs/r-reference.md``) from ``NAMESPACE`` and ``man/*.Rd``; no R needed.

Every export (``export``, ``exportClasses``, ``exportMethods``) is listed with the title of the Rd file that
documents it (the file whose ``\\alias`` names it, ``<Class>-class`` for classes).
"""

from __future__ import annotations

import re
from pathlib import Path

_DIRECTIVE = re.compile(r"^(export|exportClasses|exportMethods)\(([^)]*)\)\s*$")


def r_exports(root: Path) -> list[tuple[str, str]]:
    """``(kind, name)`` for every export in ``NAMESPACE``, in file order, methods of exported generics once."""
    out: list[tuple[str, str]] = []
    for line in (Path(root) / "NAMESPACE").read_text().splitlines():
        m = _DIRECTIVE.match(line.strip())
        if m:
            for name in (n.strip().strip('"') for n in m.group(2).split(",")):
                if name and (m.group(1), name) not in out:
                    out.append((m.group(1), name))
    return out


def _rd_field(text: str, field: str) -> list[str]:
    return [" ".join(v.split()) for v in re.findall(r"\\" + field + r"\{((?:[^{}]|\{[^{}]*\})*)\}", text)]


def rd_index(root: Path) -> dict[str, tuple[str, str]]:
    """alias -> (Rd file name, title) over ``man/*.Rd``."""
    index: dict[str, tuple[str, str]] = {}
    for rd in sorted((Path(root) / "man").glob("*.Rd")):
        text = rd.read_text()
        titles = _rd_field(text, "title")
        title = re.sub(r"\\[a-zA-Z]+\{([^{}]*)\}", r"\1", titles[0]) if titles else ""
        for alias in _rd_field(text, "alias"):
            index.setdefault(alias, (rd.name, title))
    return index


def render(root: Path) -> str:
    root = Path(root)
    index = rd_index(root)
    lines = [
        "# R reference",
        "",
        "Every export of the R/Bioconductor package (from `NAMESPACE`) with the title of its help page "
        "(`man/*.Rd`). In R, `?name` shows the full page. This page is generated at build time by "
        "`docs/r_reference.py`.",
        "",
        "Vignettes (R Markdown sources): {download}`scDiffusion.Rmd <../vignettes/scDiffusion.Rmd>`, "
        "{download}`interpolation.Rmd <../vignettes/interpolation.Rmd>`; see also [R usage](r-usage.md).",
        "",
        "| Export | Kind | Help page | Title |",
        "|---|---|---|---|",
    ]
    kinds = {"export": "function", "exportClasses": "S4 class", "exportMethods": "S4 methods"}
    for kind, name in r_exports(root):
        key = f"{name}-class" if kind == "exportClasses" else name
        rd, title = index.get(key, index.get(name, ("", "")))
        if not rd and kind == "exportMethods":  # a method of another package's generic, e.g. show,<Class>-method
            rd, title = next((v for k, v in index.items() if k.startswith(name + ",")), ("", ""))
        if not rd:
            raise RuntimeError(f"R export {name!r} has no Rd file with \\alias{{{key}}} in man/; run roxygen2.")
        lines.append(f"| `{name}` | {kinds[kind]} | `man/{rd}` | {title.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def write_page(root: Path, path: Path) -> Path:
    text = render(root)
    path = Path(path)
    if not path.exists() or path.read_text() != text:  # unchanged page: no rebuild
        path.write_text(text)
    return path


if __name__ == "__main__":
    print(render(Path(__file__).resolve().parent.parent))
