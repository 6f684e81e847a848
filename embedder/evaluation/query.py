"""``e5 compare-query``: one query through several retrievers over the same corpus, side by side.

Retrieval is this package's (exact FAISS inner product with document vectors cached on disk per model
and corpus, BM25 via bm25s), so each model encodes a corpus once and later queries cost one query
encoding. ``progress(stage, done, total)`` is called after every batch of ``batch_size`` documents; a
caller stops a run by raising from it (the Streamlit app does when its user cancels or leaves).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..datasets import BeirDataset
from .agreement import top_ids
from .retrieval import DenseRetriever, Progress, Retriever, as_retriever
from .runner import prefixed

BATCH_DOCS = 32  # documents per encoder call: small, so that a run can stop soon after it is asked to


@dataclass(frozen=True)
class QueryRun:
    """One retriever's answer: ``ids`` best first with their ``scores``; ``encoded_docs`` counts the
    documents encoded for it (0 when cached vectors were used; ``None`` for a lexical retriever)."""

    model: str
    ids: list[str]
    scores: dict[str, float]
    wall_s: float
    encoded_docs: int | None

    @property
    def lexical(self) -> bool:
        return self.encoded_docs is None


def no_hit_reason(run: QueryRun) -> str:
    """Why a run returned nothing (a dense run always returns hits unless the corpus is empty)."""
    if run.lexical:
        return (
            "no lexical match: no word of the query (stop words dropped, words stemmed) occurs in the corpus"
        )
    return "no hit: the corpus is empty"


def with_one_query(dataset: BeirDataset, text: str, query_id: str | None = None) -> BeirDataset:
    """The same corpus (so cached document vectors apply) with the single query ``text``."""
    key = query_id or "query"
    judged = dataset.qrels.get(query_id, {}) if query_id else {}
    return replace(dataset, queries={key: text}, qrels={key: judged})


def pending_documents(models: Sequence, dataset: BeirDataset) -> dict[str, int | None]:
    """For each model, the documents a comparison would encode first (0: cached; ``None``: lexical)."""
    pending: dict[str, int | None] = {}
    for model in models:
        retriever = as_retriever(model)
        cached = isinstance(retriever, DenseRetriever) and retriever.has_cached_vectors(dataset)
        pending[retriever.name] = (
            None if not isinstance(retriever, DenseRetriever) else 0 if cached else len(dataset.corpus)
        )
    return pending


def compare_query(
    dataset: BeirDataset,
    models: Sequence,
    query: str,
    instruction: str,
    *,
    k: int = 10,
    query_id: str | None = None,
    progress: Progress | None = None,
    batch_size: int = BATCH_DOCS,
) -> list[QueryRun]:
    """Each model's top-``k`` documents of ``dataset`` for ``query`` (the instruction goes to dense
    models only); ``query_id`` names a judged query of the dataset, whose qrels then apply."""
    if not query.strip():
        raise ValueError("the query is empty")
    if not instruction.strip():
        raise ValueError("the instruction is empty")
    if not models:
        raise ValueError("pick at least one model")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    one = with_one_query(dataset, query, query_id)
    return [
        run_one(
            as_retriever(model, batch_size=batch_size, progress=prefixed(progress, model.name)),
            one,
            instruction,
            k,
        )
        for model in models
    ]


def run_one(retriever: Retriever, dataset: BeirDataset, instruction: str, k: int) -> QueryRun:
    dense = isinstance(retriever, DenseRetriever)
    started = time.perf_counter()
    run = next(iter(retriever.search(dataset, instruction if dense else "", k).values()), {})
    wall = time.perf_counter() - started
    ids = top_ids(run, k)
    encoded = (0 if retriever.cache_hit else len(dataset.corpus)) if dense else None
    return QueryRun(retriever.name, ids, {i: run[i] for i in ids}, wall, encoded)
