"""Every benchmark runs end to end in its --quick mode (tiny budgets; the numbers are not the point)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HSMM = Path("/usr/lib/R/site-library/HSMMSingleCell/data")


@pytest.mark.parametrize("name", ["unconditional", "conditional", "unseen_combination", "interpolation"])
def test_benchmark_quick_mode(name, tmp_path):
    if name == "interpolation" and not HSMM.exists():
        pytest.skip("HSMMSingleCell data is not installed (Debian r-bioc-hsmmsinglecell; scripts/install-r.sh)")
    if name == "interpolation":
        pytest.importorskip("pyreadr", reason="pip install 'scdiffusion-ldm[bench]' for the HSMM reader")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--quick", "--output-dir",
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results
    assert list(tmp_path.glob("*.png"))
