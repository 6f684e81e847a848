"""``e5 bench compare``: the same BEIR sets through several encoders (API models included), side by side.

One row per model: the chosen metric per dataset, then wall time, tokens and estimated US$ summed over
the datasets. The bar chart shows the metric per dataset and model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from .metrics import METRIC_NAMES
from .report import bar_chart, figure_path
from .results import Result, ResultStore
from .retrieval import Progress
from .runner import run_beir

LOCAL_MODELS = ("bm25", "minilm", "base", "default")
API_MODELS = ("openai:text-embedding-3-small", "openai:text-embedding-3-large")


def default_models() -> list[str]:
    """The local baselines, plus OpenAI's models when a key is configured (and no other endpoint)."""
    api = (
        list(API_MODELS) if os.environ.get("OPENAI_API_KEY") and not os.environ.get("OPENAI_BASE_URL") else []
    )
    return [*LOCAL_MODELS, *api]


@dataclass(frozen=True)
class Comparison:
    results: list[Result]
    metric: str
    chart: Path


def compare(
    paths: Sequence[str | Path],
    models: Sequence | None = None,
    split: str = "test",
    max_queries: int | None = None,
    max_docs: int | None = None,
    seed: int = 0,
    instruction: str | None = None,
    metric: str = "ndcg_at_10",
    chart: Path | None = None,
    progress: Progress | None = None,
    store: ResultStore | None = None,
) -> Comparison:
    """Run every model on every dataset (see ``run_beir``) and draw the bar chart."""
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {', '.join(METRIC_NAMES)}; got {metric!r}")
    results = run_beir(
        paths,
        models or default_models(),
        split=split,
        max_queries=max_queries,
        max_docs=max_docs,
        seed=seed,
        instruction=instruction,
        progress=progress,
        store=store,
    )
    path = bar_chart(results, chart or figure_path(f"compare-{metric}"), metric)
    return Comparison(results, metric, path)


def total(values: list) -> float | None:
    """Sum of the known values; ``None`` if none is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def comparison_table(comparison: Comparison) -> Table:
    """Models as rows, datasets as columns, then wall time, tokens and estimated cost."""
    results = comparison.results
    datasets = list(dict.fromkeys(r.dataset_label for r in results))
    table = Table(title=f"{comparison.metric} by model and dataset")
    table.add_column("model")
    for dataset in datasets:
        table.add_column(escape(dataset), justify="right")
    for column in ("wall s", "tokens", "est. $"):
        table.add_column(column, justify="right")
    for model in dict.fromkeys(r.model for r in results):
        rows = {r.dataset_label: r for r in results if r.model == model}
        scores = [f"{rows[d].metrics[comparison.metric]:.4f}" if d in rows else "-" for d in datasets]
        wall = total([r.wall_s for r in rows.values()])
        tokens = total([r.tokens for r in rows.values()])
        cost = total([r.cost_usd for r in rows.values()])
        cached = " (cached docs)" if any(r.config.get("cache_hit") for r in rows.values()) else ""
        table.add_row(
            model,
            *scores,
            f"{wall:.1f}{cached}",
            "-" if tokens is None else f"{tokens:,}",
            "-" if cost is None else f"{cost:.4f}",
        )
    return table
