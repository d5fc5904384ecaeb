"""Write the pip pins of the R package's basilisk environment (``R/basilisk.R``) from ``pyproject.toml``.

Each runtime dependency of ``pyproject.toml`` (``[project] dependencies``) is pinned to the version installed
in the Python that runs this script, so run it with the environment that CI tests (``.venv`` after
``bash scripts/install.sh``). Only the block between the ``BEGIN pins`` and ``END pins`` lines of
``R/basilisk.R`` is rewritten. ``tests/python/test_dependencies.py`` fails when the block and pyproject.toml
disagree (a dependency missing or extra, or a pin outside the declared range); ``tools/basilisk-pins-smoke.sh``
builds an environment from exactly these pins and runs the R package against it.

    .venv/bin/python tools/make_basilisk_pins.py            # rewrite the block of R/basilisk.R
    .venv/bin/python tools/make_basilisk_pins.py --check    # exit 1 if the block is not what would be written
    python tools/make_basilisk_pins.py --print              # the committed pins as requirement lines
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
BASILISK_R = ROOT / "R" / "basilisk.R"
BEGIN = "# BEGIN pins: written by tools/make_basilisk_pins.py from pyproject.toml; do not edit by hand"
END = "# END pins"
_BLOCK = re.compile(r"^(?P<indent>[ \t]*)# BEGIN pins\b[^\n]*\n(?P<body>.*?)^[ \t]*# END pins[^\n]*$",
                    re.MULTILINE | re.DOTALL)
_PIN = re.compile(r'^\s*"(?P<req>[^"]+)",?\s*$')


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[Requirement]:
    """The ``[project] dependencies`` of ``pyproject``, in their order."""
    data = tomllib.loads(pyproject.read_text())
    return [Requirement(r) for r in data["project"]["dependencies"]]


def installed_pins(requirements: list[Requirement]) -> list[str]:
    """``name==version`` for each requirement, the version installed here (local labels such as +cpu dropped)."""
    pins, missing = [], []
    for req in requirements:
        try:
            version = Version(metadata.version(req.name))
        except metadata.PackageNotFoundError:
            missing.append(req.name)
            continue
        if version not in req.specifier:
            raise SystemExit(f"{req.name} {version} is installed here but pyproject.toml asks for {req}; "
                             "reinstall (bash scripts/install.sh) and run this again.")
        marker = f"; {req.marker}" if req.marker else ""
        pins.append(f"{req.name}=={version.public}{marker}")
    if missing:
        raise SystemExit(f"not installed in {sys.prefix}: {', '.join(missing)}; run this with the environment CI "
                         "tests: bash scripts/install.sh && .venv/bin/python tools/make_basilisk_pins.py")
    return pins


def read_pins(text: str | None = None) -> list[str]:
    """The requirement strings of the pins block of ``R/basilisk.R``."""
    text = BASILISK_R.read_text() if text is None else text
    m = _BLOCK.search(text)
    if m is None:
        raise SystemExit(f"{BASILISK_R} has no '# BEGIN pins' ... '# END pins' block inside pip = c(...).")
    pins = []
    for line in m.group("body").splitlines():
        if not line.strip():
            continue
        pin = _PIN.match(line)
        if pin is None:
            raise SystemExit(f"unexpected line in the pins block of {BASILISK_R}: {line.strip()!r}")
        pins.append(pin.group("req"))
    return pins


def write_block(text: str, pins: list[str]) -> str:
    """``text`` (of ``R/basilisk.R``) with its pins block replaced by ``pins``."""
    m = _BLOCK.search(text)
    if m is None:
        raise SystemExit(f"{BASILISK_R} has no '# BEGIN pins' ... '# END pins' block inside pip = c(...).")
    indent = m.group("indent")
    lines = [f"{indent}{BEGIN}"]
    lines += [f'{indent}"{p}"' + ("," if i < len(pins) - 1 else "") for i, p in enumerate(pins)]
    lines.append(f"{indent}{END}")
    return text[:m.start()] + "\n".join(lines) + text[m.end():]


def disagreements(pins: list[str], requirements: list[Requirement]) -> list[str]:
    """Why ``pins`` do not match ``requirements`` (names, and each pin inside its declared range); [] if they do."""
    problems = []
    declared = {canonicalize_name(r.name): r for r in requirements}
    pinned: dict[str, Requirement] = {}
    for p in pins:
        req = Requirement(p)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            problems.append(f"{p!r} is not an exact pin (name==version)")
            continue
        pinned[canonicalize_name(req.name)] = req
    for name in declared.keys() - pinned.keys():
        problems.append(f"{declared[name]} is a runtime dependency in pyproject.toml but has no pin")
    for name in pinned.keys() - declared.keys():
        problems.append(f"{pinned[name]} is pinned but is not a runtime dependency in pyproject.toml")
    for name in declared.keys() & pinned.keys():
        version = Version(next(iter(pinned[name].specifier)).version)
        if version not in declared[name].specifier:
            problems.append(f"{pinned[name]} is outside the declared range {declared[name]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if R/basilisk.R is not what would be written")
    mode.add_argument("--print", action="store_true", help="print the committed pins, one requirement a line")
    args = parser.parse_args(argv)
    if args.print:
        print("\n".join(read_pins()))
        return 0
    requirements = runtime_requirements()
    text = BASILISK_R.read_text()
    new = write_block(text, installed_pins(requirements))
    if args.check:
        if new != text:
            print(f"{BASILISK_R.relative_to(ROOT)} differs from the versions installed in {sys.prefix}; run "
                  f"{Path(sys.executable).name} tools/make_basilisk_pins.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        BASILISK_R.write_text(new)
        print(f"wrote the pins of {BASILISK_R.relative_to(ROOT)}")
    else:
        print(f"{BASILISK_R.relative_to(ROOT)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
