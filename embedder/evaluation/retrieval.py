"""Retrievers for evaluation (any ``Encoder`` through FAISS exact inner product, or BM25) and
``evaluate_encoder``, the one-call BEIR evaluation.

A ``Retriever`` turns a dataset into a run (query id -> {doc id: score}) and says how many tokens
it sent through its model (the API cost driver; ``None`` where there is no such notion).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from .cache import cache_path, load_cached, max_length_of, save_cached
from .metrics import Run, evaluate_run

if TYPE_CHECKING:
    from ..datasets import BeirDataset
    from ..protocol import Encoder

Progress = Callable[[str, int, int], None]  # (stage, done, total), e.g. for a UI progress bar

TOP_K = 1000  # BEIR scores the top 1000


@runtime_checkable
class Retriever(Protocol):
    name: str
    tokens: int | None

    def search(self, dataset: BeirDataset, instruction: str, k: int = TOP_K) -> Run: ...


def exact_search(
    query_ids: list[str], queries: np.ndarray, doc_ids: list[str], docs: np.ndarray, k: int = TOP_K
) -> Run:
    """Top-k documents per query by exact inner product (``faiss.IndexFlatIP``)."""
    import faiss

    index = faiss.IndexFlatIP(docs.shape[1])
    index.add(np.ascontiguousarray(docs, dtype=np.float32))
    scores, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(doc_ids)))
    return {
        qid: {doc_ids[r]: float(s) for r, s in zip(row, score, strict=True) if r >= 0}
        for qid, row, score in zip(query_ids, rows, scores, strict=True)
    }


class DenseRetriever:
    """An ``Encoder`` as a retriever; document vectors are cached on disk (see ``cache``)."""

    def __init__(
        self, encoder: Encoder, *, batch_size: int = 256, cache: bool = True, progress: Progress | None = None
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.encoder, self.batch_size, self.cache, self.progress = encoder, batch_size, cache, progress
        self.name = encoder.name
        self.measurable = hasattr(encoder, "usage_tokens") or hasattr(encoder, "count_tokens")
        self.tokens: int | None = None
        self.cache_hit = False

    def search(self, dataset: BeirDataset, instruction: str, k: int = TOP_K) -> Run:
        self.tokens = 0 if self.measurable else None
        docs = self.document_vectors(dataset)
        queries = self.encode(
            list(dataset.queries.values()),
            "queries",
            lambda texts: self.encoder.encode_queries(texts, instruction),
        )
        return exact_search(list(dataset.queries), queries, list(dataset.corpus), docs, k)

    def cache_file(self, dataset: BeirDataset) -> Path:
        return cache_path(self.encoder.name, dataset.fingerprint, max_length_of(self.encoder))

    def has_cached_vectors(self, dataset: BeirDataset) -> bool:
        """Whether this encoder's vectors of the dataset's corpus are on disk (nothing to encode)."""
        return self.cache and self.cache_file(dataset).is_file()

    def document_vectors(self, dataset: BeirDataset) -> np.ndarray:
        path = self.cache_file(dataset)
        cached = load_cached(path, len(dataset.corpus)) if self.cache else None
        self.cache_hit = cached is not None
        if cached is not None:
            return cached
        vectors = self.encode(dataset.document_texts(), "documents", self.encoder.encode_documents)
        if self.cache:
            save_cached(path, vectors)
        return vectors

    def encode(self, texts: list[str], stage: str, encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Encode in chunks of ``batch_size`` with one progress bar, metering tokens."""
        chunks = []
        own_bar = hasattr(self.encoder, "show_progress")
        previous = getattr(self.encoder, "show_progress", None)
        if own_bar:
            self.encoder.show_progress = False  # one bar here instead of one per chunk
        try:
            with tqdm(total=len(texts), desc=f"{self.name} {stage}", unit="text", leave=False) as bar:
                for start in range(0, len(texts), self.batch_size):
                    chunk = texts[start : start + self.batch_size]
                    chunks.append(self.metered(encode, chunk))
                    bar.update(len(chunk))
                    if self.progress:
                        self.progress(stage, bar.n, len(texts))
        finally:
            if own_bar:
                self.encoder.show_progress = previous
        return np.concatenate(chunks) if chunks else np.zeros((0, self.encoder.dim), np.float32)

    def metered(self, encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
        before = getattr(self.encoder, "usage_tokens", None)
        vectors = encode(texts)
        if self.tokens is not None:  # API backends report billed tokens; LLM backends can count them
            used = (
                self.encoder.usage_tokens - before
                if before is not None
                else sum(self.encoder.count_tokens(texts))
            )
            self.tokens += int(used)
        return vectors


def as_retriever(model: Encoder | Retriever, **options: Any) -> Retriever:
    """A retriever as is, or an encoder wrapped in a ``DenseRetriever``."""
    return model if isinstance(model, Retriever) else DenseRetriever(model, **options)


def evaluate_encoder(
    encoder: Encoder | Retriever,
    dataset: BeirDataset,
    instruction: str | None = None,
    batch_size: int = 256,
    cache: bool = True,
    progress: Progress | None = None,
) -> dict[str, float]:
    """nDCG@10, Recall@100, MRR@10, MAP@100 (and a few more) of an ``Encoder`` or a ``Retriever``
    (e.g. BM25) on a dataset, following BEIR's conventions.

    The document cache is keyed on ``encoder.name``: pass ``cache=False`` for a model whose weights
    change under the same name (dev evaluation during training)."""
    retriever = as_retriever(encoder, batch_size=batch_size, cache=cache, progress=progress)
    run = retriever.search(dataset, instruction or dataset.default_instruction())
    return evaluate_run(dataset.qrels, run)
