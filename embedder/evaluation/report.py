"""Presenting results: a rich table for the terminal, CSV/JSON/Markdown export, and bar charts."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from ..paths import e5_home
from .results import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = ("csv", "json", "markdown")
COLUMNS = (
    "model",
    "dataset",
    "split",
    "subset",
    "ndcg_at_10",
    "recall_at_100",
    "mrr_at_10",
    "map",
    "accuracy",
    "wall_s",
    "tokens",
    "cost_usd",
    "created",
)

HEADERS = {
    "ndcg_at_10": "nDCG@10",
    "recall_at_100": "R@100",
    "mrr_at_10": "MRR@10",
    "map": "MAP@100",
    "accuracy": "acc",
    "wall_s": "wall s",
    "cost_usd": "est. $",
}


def figure_path(stem: str) -> Path:
    """``$E5_HOME/figures/<stem>.png`` with the stem made file-name safe."""
    folder = e5_home() / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (re.sub(r"[^\w.@-]+", "_", stem) + ".png")


def present_columns(results: list[Result]) -> list[str]:
    """The columns of ``COLUMNS`` that at least one result fills."""
    records = [r.to_dict() for r in results]
    return [c for c in COLUMNS if any(record.get(c) is not None for record in records)]


def cell(value: object, column: str = "") -> str:
    if value is None:
        return "-"
    if column == "wall_s":
        return f"{value:.1f}"
    if column == "cost_usd":
        return f"{value:.6f}"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def results_table(results: list[Result], title: str | None = None) -> Table:
    """One row per result; subsets are labelled in the dataset column."""
    table = Table(title=title)
    columns = [c for c in present_columns(results) if c not in ("subset", "created")]
    for column in columns:
        table.add_column(
            HEADERS.get(column, column),
            justify="left" if column in ("model", "dataset", "split") else "right",
        )
    for result in results:
        record = result.to_dict() | {"dataset": result.dataset_label}
        table.add_row(*(escape(cell(record.get(c), c)) for c in columns))
    return table


def export_results(results: list[Result], fmt: str) -> str:
    """Results as CSV, JSON (a list of flat objects, config included) or a Markdown table."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "json":
        return json.dumps([r.to_dict() for r in results], indent=2)
    columns = present_columns(results)
    rows = [[cell(r.to_dict().get(c), c) for c in columns] for r in results]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
        return out.getvalue()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def new_figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    """``(figure, axes)`` on the file-only Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError('charts need matplotlib: pip install "e5-embed[bench]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def save_figure(figure: Figure, path: Path) -> Path:
    """Add the legend, write a PNG and free the figure."""
    import matplotlib.pyplot as plt

    figure.axes[0].legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def bar_chart(results: list[Result], path: Path, metric: str = "ndcg_at_10") -> Path:
    """Grouped bars: one group per dataset, one bar per model."""
    datasets = list(dict.fromkeys(r.dataset_label for r in results))
    models = list(dict.fromkeys(r.model for r in results))
    score = {(r.dataset_label, r.model): r.metrics.get(metric, 0.0) for r in results}
    width = 0.8 / max(len(models), 1)
    figure, axes = new_figure((max(6, 1.6 * len(datasets) * len(models) ** 0.5), 4))
    for i, model in enumerate(models):
        xs = [d + i * width for d in range(len(datasets))]
        axes.bar(xs, [score.get((d, model), 0.0) for d in datasets], width, label=model)
    axes.set_xticks([d + width * (len(models) - 1) / 2 for d in range(len(datasets))], datasets, fontsize=8)
    axes.set(ylabel=metric, ylim=(0, 1))
    return save_figure(figure, path)
