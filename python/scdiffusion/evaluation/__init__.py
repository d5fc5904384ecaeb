"""Evaluation of generated cells: the metric suite with its real-vs-real control, and the report.

This layer sits above :mod:`scdiffusion.metrics` (the measures) and :mod:`scdiffusion.plotting` (the figures)
and imports both; neither imports it.

Main entry points: :func:`evaluate` (every metric, a JSON-serialisable dict), :func:`write_report`
(metrics.json + figures + report.md), :func:`results_table` (one row per metric) and
:func:`comparison_data` (the numbers behind the comparison figures).
"""

from .control import PASS_FACTOR, control_splits, judge
from .markdown import render_markdown
from .panels import comparison_data
from .report import write_report
from .suite import evaluate
from .table import TABLE_COLUMNS, results_table

__all__ = ["evaluate", "write_report", "render_markdown", "results_table", "comparison_data", "TABLE_COLUMNS",
           "PASS_FACTOR", "control_splits", "judge"]
