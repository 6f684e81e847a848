"""Dev evaluation: nDCG@10 of a saved adapter on the train-split queries held out from training."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from embedder.datasets import BeirDataset, load_beir, subset
from embedder.evaluation.retrieval import evaluate_encoder

from .config import SourceConfig, TrainConfig
from .export import embedder_settings
from .mixing import holdout_query_ids


def holdout_dataset(source: SourceConfig, max_docs: int) -> BeirDataset:
    """The held-out queries of a BEIR source, their judged documents and seeded random others."""
    data = load_beir(source.path, source.split)
    seed = source.holdout_seed
    held = subset(
        data, max_docs=max_docs, seed=seed, query_ids=holdout_query_ids(data, source.holdout_queries, seed)
    )
    return replace(held, subset=f"held-out {held.subset}")


def dev_evaluate(
    adapter: str | Path | None, config: TrainConfig, max_docs: int = 300, max_length: int = 128
) -> dict[str, float]:
    """nDCG@10 per BEIR source with ``holdout_queries`` (texts cut to ``max_length`` tokens);
    ``adapter=None`` scores the untrained start (same template and depth), the baseline to beat."""
    from embedder.loading import resolve_model
    from embedder.registry import load_encoder

    settings = embedder_settings(config)
    settings["max_length"] = max_length
    encoder = load_encoder(
        resolve_model(config.model.model), adapter=str(adapter) if adapter else None, **settings
    )
    scores = {}
    for source in config.data:
        if source.kind == "beir" and source.holdout_queries:
            data = holdout_dataset(source, max_docs)
            scores[f"{data.name} {data.subset}"] = evaluate_encoder(encoder, data, cache=False)["ndcg_at_10"]
    return scores
