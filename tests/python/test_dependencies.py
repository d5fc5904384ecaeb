"""Declared dependencies: the basilisk environment of the R package pins exactly the runtime dependencies of
pyproject.toml, each of which has one floor that tools/test-floors.sh installs.

The pins block of ``R/basilisk.R`` is written by ``tools/make_basilisk_pins.py``; a dependency added to
pyproject.toml without re-running it (as POT and matplotlib once were) would leave Bioconductor users without it.
"""

import importlib.util
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("make_basilisk_pins", ROOT / "tools" / "make_basilisk_pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pins_are_the_runtime_dependencies_of_pyproject():
    tool = _tool()
    problems = tool.disagreements(tool.read_pins(), tool.runtime_requirements())
    assert not problems, ("R/basilisk.R and pyproject.toml disagree (run .venv/bin/python "
                          "tools/make_basilisk_pins.py):\n" + "\n".join(problems))


@pytest.mark.parametrize("pins, expected", [
    (["numpy==2.0.0"], "scipy>=1.10 is a runtime dependency in pyproject.toml but has no pin"),
    (["numpy==2.0.0", "scipy==1.11.0", "POT==0.9.5"], "POT==0.9.5 is pinned but is not a runtime dependency"),
    (["numpy==1.20.0", "scipy==1.11.0"], "numpy==1.20.0 is outside the declared range numpy>=1.24"),
    (["numpy>=1.24", "scipy==1.11.0"], "'numpy>=1.24' is not an exact pin"),
    (["POT==0.9.7.post1", "numpy==2.0.0", "scipy==1.11.0"], "pinned but is not a runtime dependency"),
])
def test_disagreements_are_found(pins, expected):
    tool = _tool()
    problems = tool.disagreements(pins, [Requirement("numpy>=1.24"), Requirement("scipy>=1.10")])
    assert any(expected in p for p in problems), problems


def test_excluded_release_is_outside_the_range():
    tool = _tool()
    problems = tool.disagreements(["POT==0.9.7.post1"], [Requirement("POT>=0.9,!=0.9.7,!=0.9.7.post1")])
    assert problems == ["POT==0.9.7.post1 is outside the declared range POT!=0.9.7,!=0.9.7.post1,>=0.9"]


def test_rewriting_the_block_with_its_own_pins_changes_nothing():
    tool = _tool()
    text = tool.BASILISK_R.read_text()
    pins = tool.read_pins(text)
    assert tool.write_block(text, pins) == text
    changed = tool.write_block(text, pins + ["extra==1.0"])
    assert tool.read_pins(changed) == pins + ["extra==1.0"]
    assert changed.replace('",\n        "extra==1.0"', '"') == text


def test_shipped_core_metadata_matches_the_root_pyproject():
    """inst/python/pyproject.toml installs the core into the basilisk environment: same name, version, Python
    and entry points as the root project; no dependencies of its own (basilisk installs the pins)."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    shipped = tomllib.loads((ROOT / "inst" / "python" / "pyproject.toml").read_text())["project"]
    for key in ("name", "version", "requires-python", "scripts"):
        assert shipped[key] == root[key], key
    assert shipped["dependencies"] == []
    version = (ROOT / "python" / "scdiffusion" / "_version.py").read_text()
    assert f'__version__ = "{root["version"]}"' in version


def test_every_runtime_dependency_has_one_floor():
    """tools/test-floors.sh installs each runtime dependency at its '>=' bound: there must be exactly one."""
    tool = _tool()
    for req in tool.runtime_requirements():
        floors = [s for s in req.specifier if s.operator == ">="]
        assert len(floors) == 1, f"{req}: give it one '>=' floor (tools/test-floors.sh installs it)"
