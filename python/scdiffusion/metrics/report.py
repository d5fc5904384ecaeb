"""Moved to :mod:`scdiffusion.evaluation.report`.

Kept so that ``from scdiffusion.metrics.report import write_report`` (used by the CLI) keeps working; the
name resolves on first use, so importing :mod:`scdiffusion.metrics` does not import the evaluation layer.
"""


def __getattr__(name: str):
    if name in ("write_report", "render_markdown"):
        from ..evaluation import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
