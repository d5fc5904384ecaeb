"""The README's quickstart figures are those of the stored quickstart run (benchmarks/results/quickstart/summary.json).

The README quotes what ``bash scripts/setup.sh`` prints; the run that produced the figures is stored, and this test
keeps the two from drifting apart. Nothing is trained here: after a change that moves the figures, re-run the
quickstart as the README says and update both (see ``STALE``).
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SUMMARY = ROOT / "benchmarks" / "results" / "quickstart" / "summary.json"
MARKER = "<!-- quickstart-figures:"
STALE = ("re-run the quickstart as the README says (SCDIFFUSION_THREADS=1 .venv/bin/scdiffusion quickstart "
         "--output-dir scdiffusion_quickstart --overwrite, which is what bash scripts/setup.sh runs), copy "
         "scdiffusion_quickstart/summary.json to benchmarks/results/quickstart/summary.json and update the "
         "README's quick-start table and sentence from it")

#: README table row -> (key in realism_vs_heldout, key in its control block)
ROWS = {"SCC of gene means": ("scc_gene_means", "scc_gene_means"),
        "MMD², 50 PCs": ("mmd_pca50", "mmd_pca50"),
        "RF AUC, 50 PCs": ("rf_auc_pca50", "rf_auc_pca50"),
        "RF AUC, genes": ("rf_auc_genes", "rf_auc_genes")}
CLASSIFIER_ROW = "cell-type classifier accuracy"


def _summary() -> dict:
    return json.loads(SUMMARY.read_text())


def _table() -> dict[str, list[str]]:
    """The rows of the README's quickstart table (first cell -> the other cells)."""
    text = README.read_text()
    assert MARKER in text, f"README.md lost its quickstart table (the line starting {MARKER!r})"
    lines = text[text.index(MARKER):].splitlines()[1:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def _matches(quoted: str, value: float) -> bool:
    """``quoted`` (e.g. ``0.073``) is ``value`` rounded to the digits the README shows."""
    number = re.search(r"-?\d+(?:\.\d+)?", quoted)
    assert number, f"no number in {quoted!r}"
    digits = len(number.group().split(".")[1]) if "." in number.group() else 0
    return f"{value:.{digits}f}" == number.group()


def test_the_stored_run_is_the_readme_command():
    s = _summary()
    assert s["train_threads"] == 1 and s["device"] == "cpu", f"the README's run trains on one CPU thread; {STALE}"
    assert s["seed"] == 0 and s["n_cells_per_type"] == 50, f"the README's run uses the defaults; {STALE}"
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert 'SCDIFFUSION_THREADS="${SCDIFFUSION_THREADS:-1}"' in setup, "setup.sh no longer trains on one thread"


def test_readme_quickstart_table_equals_the_stored_summary():
    s = _summary()
    realism, control = s["realism_vs_heldout"], s["realism_vs_heldout"]["control_real_train_vs_heldout"]
    rows = _table()
    wrong = []
    for row, (key, control_key) in ROWS.items():
        assert row in rows, f"README quickstart table has no row {row!r}"
        generated, ctrl = rows[row][0], rows[row][1]
        if not _matches(generated, realism[key]):
            wrong.append(f"{row}: README {generated}, stored {realism[key]:.4f}")
        if not _matches(ctrl, control[control_key]):
            wrong.append(f"{row} (control): README {ctrl}, stored {control[control_key]:.4f}")
    row = next((r for r in rows if r.startswith(CLASSIFIER_ROW)), None)
    assert row, f"README quickstart table has no row starting {CLASSIFIER_ROW!r}"
    for quoted, key in zip(rows[row][:2], ("classifier_accuracy_generated", "classifier_accuracy_real_heldout")):
        if not _matches(quoted, 100 * realism[key]):
            wrong.append(f"{row}: README {quoted}, stored {100 * realism[key]:.1f} %")
    assert not wrong, "README quickstart figures differ from the stored run:\n  " + "\n  ".join(wrong) + f"\n{STALE}"


def test_readme_quickstart_counts_and_timing_are_the_stored_run():
    s = _summary()
    realism = s["realism_vs_heldout"]
    text = " ".join(README.read_text().split())
    expected = [f"for {realism['n_generated']} generated cells", f"against {realism['n_real_heldout']} held-out",
                f"training {s['train_seconds']:.0f} s", f"sampler {s['generate_seconds']} s"]
    missing = [e for e in expected if e not in text]
    assert not missing, f"README quickstart text does not say {missing}; {STALE}"
