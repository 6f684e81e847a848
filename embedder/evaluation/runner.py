"""``e5 bench beir``: several models over several BEIR folders, each result timed, costed and stored.

Model specs are the registry's (``default``, ``base``, ``minilm``, ``openai:<model>``, ...) plus
``bm25`` and ``hybrid:<spec>`` (BM25 fused with that encoder, see ``hybrid``). Already-built encoders or
retrievers may be passed instead of specs (the UI does).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..datasets import BeirDataset, load_beir, subset
from ..registry import load_model
from .results import Result, ResultStore
from .retrieval import Progress, as_retriever, evaluate_encoder

if TYPE_CHECKING:
    from ..protocol import Encoder
    from .retrieval import Retriever

# US$ per million input tokens, from OpenAI's published price list.
PRICE_PER_MILLION = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}


def estimated_cost(model_name: str, tokens: int | None) -> float | None:
    """Estimated US$ for an OpenAI model's tokens (``openai:text-embedding-3-small``); ``None`` otherwise."""
    model = model_name.removeprefix("openai:").split("@")[0]
    if tokens is None or not model_name.startswith("openai:") or model not in PRICE_PER_MILLION:
        return None
    return round(tokens * PRICE_PER_MILLION[model] / 1e6, 6)


def load_datasets(
    paths: Sequence[str | Path], split: str, max_queries: int | None, max_docs: int | None, seed: int
) -> list[BeirDataset]:
    return [subset(load_beir(path, split), max_queries, max_docs, seed) for path in paths]


def prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    """A progress callback whose stage names say which model and dataset are running."""
    if progress is None:
        return None
    return lambda stage, done, total: progress(f"{prefix}: {stage}", done, total)


def evaluate_one(
    model: Encoder | Retriever,
    dataset: BeirDataset,
    instruction: str | None,
    progress: Progress | None,
    batch_size: int,
) -> Result:
    """Evaluate one model on one dataset and describe the run."""
    retriever = as_retriever(model, batch_size=batch_size, progress=progress)
    instruction = instruction or dataset.default_instruction()
    started = time.perf_counter()
    metrics = evaluate_encoder(retriever, dataset, instruction)
    wall = time.perf_counter() - started
    encoder_config = getattr(getattr(model, "config", None), "to_dict", dict)()
    config = {
        "instruction": instruction if retriever.name != "bm25" else None,
        "corpus_docs": len(dataset.corpus),
        "queries": len(dataset.queries),
        "fingerprint": dataset.fingerprint,
        "dropped_qrels": dataset.dropped_qrels,
        "cache_hit": getattr(retriever, "cache_hit", False),
        "encoder": encoder_config,
        "fusion": getattr(retriever, "fusion_settings", None),
    }
    return Result(
        kind="beir",
        model=retriever.name,
        dataset=dataset.name,
        split=dataset.split,
        metrics=metrics,
        subset=dataset.subset,
        config=config,
        wall_s=round(wall, 2),
        tokens=retriever.tokens,
        cost_usd=estimated_cost(retriever.name, retriever.tokens),
    )


def run_beir(
    paths: Sequence[str | Path],
    models: Sequence,
    split: str = "test",
    max_queries: int | None = None,
    max_docs: int | None = None,
    seed: int = 0,
    instruction: str | None = None,
    progress: Progress | None = None,
    batch_size: int = 256,
    store: ResultStore | None = None,
    save: bool = True,
    max_length: int | None = None,
) -> list[Result]:
    """Every model on every dataset; results are saved to ``store`` (default: ``$E5_HOME/results.db``).

    ``max_length`` caps the tokens per text of LLM encoders (cheaper runs on a CPU; recorded in the config).

    ``instruction`` overrides each dataset's paper instruction; ``progress(stage, done, total)``
    reports encoding progress as ``"<model> on <dataset>: documents"``.
    """
    if not paths or not models:
        raise ValueError("run_beir needs at least one dataset path and one model")
    report_runs = progress or (lambda _stage, _done, _total: None)
    report_runs("loading datasets", 0, len(paths))
    datasets = load_datasets(paths, split, max_queries, max_docs, seed)
    results = []
    for spec in models:
        model = load_model(spec, max_length) if isinstance(spec, str) else spec
        for dataset in datasets:
            report_runs(
                f"runs done ({model.name} on {dataset.label} next)", len(results), len(models) * len(datasets)
            )
            report = prefixed(progress, f"{model.name} on {dataset.label}")
            results.append(evaluate_one(model, dataset, instruction, report, batch_size))
    if save:
        (store or ResultStore()).add(results)
    return results
