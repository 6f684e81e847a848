"""Turning configured sources into one training list: BM25 hard negatives, weights, dedup, leak check."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Sequence

from .config import LeakConfig, SourceConfig
from .data import (
    BeirData,
    DataError,
    Example,
    read_beir,
    read_jsonl,
    read_sts,
    resolve_instruction,
    sts_sentences,
)

log = logging.getLogger(__name__)


def beir_examples(source: SourceConfig, seed: int = 0) -> list[Example]:
    """(query, a judged positive, the best-ranked BM25 document that is not judged relevant).

    The first ``holdout_queries`` of a seeded shuffle are left out (see :func:`holdout_query_ids`).
    """
    data = read_beir(source.path, source.split)
    instruction = resolve_instruction(source.task or _folder_name(source.path))
    held_out = set(holdout_query_ids(data, source.holdout_queries, seed))
    qids = [q for q in sorted(data.qrels) if q not in held_out and q in data.queries]
    negatives = bm25_negatives(data, qids)
    examples = []
    for qid in qids:
        positives = sorted((d for d, s in data.qrels[qid].items() if s > 0 and d in data.corpus),
                           key=lambda d: (-data.qrels[qid][d], d))[: source.max_positives]
        for doc in positives:
            examples.append(Example(data.queries[qid], data.corpus[doc], negatives.get(qid), instruction,
                                    f"{source.path}:{source.split}:{qid}"))
    return examples


def holdout_query_ids(data: BeirData, count: int, seed: int = 0) -> list[str]:
    """A seeded slice of a split's queries kept out of training for dev evaluation."""
    qids = sorted(q for q in data.qrels if q in data.queries)
    random.Random(seed).shuffle(qids)
    return sorted(qids[:count])


def bm25_negatives(data: BeirData, qids: Sequence[str], depth: int = 30) -> dict[str, str]:
    """For each query, the highest-ranked BM25 document not judged relevant (bm25s)."""
    import bm25s

    doc_ids = sorted(data.corpus)
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([data.corpus[d] for d in doc_ids], stopwords="en", show_progress=False),
                    show_progress=False)
    tokens = bm25s.tokenize([data.queries[q] for q in qids], stopwords="en", show_progress=False)
    ranked, _ = retriever.retrieve(tokens, k=min(depth, len(doc_ids)), show_progress=False)
    out = {}
    for qid, row in zip(qids, ranked):
        judged = data.qrels[qid]
        hit = next((doc_ids[i] for i in row if doc_ids[i] not in judged), None)
        if hit is not None:
            out[qid] = data.corpus[hit]
    return out


def _folder_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def source_examples(source: SourceConfig, seed: int = 0) -> list[Example]:
    """All examples of one source, before weighting."""
    if source.kind == "beir":
        return beir_examples(source, seed)
    if source.kind == "sts":
        return read_sts(source.path, source.min_score, source.task or "sts")
    return read_jsonl(source.path, source.task)


def apply_weight(examples: list[Example], weight: float, rng: random.Random) -> list[Example]:
    """``weight`` copies of the list: whole repeats plus a seeded sample for the fraction."""
    whole, fraction = int(weight), weight - int(weight)
    return examples * whole + rng.sample(examples, round(fraction * len(examples)))


def dedup(examples: Iterable[Example]) -> list[Example]:
    """Drop repeated (instruction, query, positive) triples, keeping the first."""
    seen, out = set(), []
    for ex in examples:
        key = (ex.instruction, normalise(ex.query), normalise(ex.positive))
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form used for dedup and leak detection."""
    return re.sub(r"\s+", " ", text).strip().lower()


def evaluation_texts(leak: LeakConfig) -> set[str]:
    """Normalised queries and judged documents of the evaluation splits, and STS evaluation sentences."""
    texts = set()
    for folder in leak.beir:
        data = read_beir(folder, leak.split)
        texts.update(normalise(q) for q in data.queries.values())
        if leak.documents:
            texts.update(normalise(data.corpus[d]) for judged in data.qrels.values() for d in judged
                         if d in data.corpus)
    for path in leak.sts:
        texts.update(normalise(s) for s in sts_sentences(path))
    return texts


def check_leaks(examples: list[Example], leak: LeakConfig) -> list[Example]:
    """Examples whose query, positive or negative is evaluation text: an error naming the first
    (policy ``error``) or dropped with a warning (policy ``drop``)."""
    forbidden = evaluation_texts(leak)
    if not forbidden:
        return examples
    clean = []
    for ex in examples:
        texts = (ex.query, ex.positive, ex.negative or "")
        if any(normalise(t) in forbidden for t in texts):
            if leak.policy == "error":
                raise DataError(f"{ex.origin}: evaluation-split text enters training (leak): {ex.query[:80]!r}")
            continue
        clean.append(ex)
    if len(clean) < len(examples):
        log.warning("dropped %d examples that contain evaluation-split text", len(examples) - len(clean))
    return clean


def build_dataset(sources: Sequence[SourceConfig], leak: LeakConfig, seed: int = 0) -> tuple[list[Example], dict]:
    """The weighted, deduplicated, leak-checked, shuffled training list and per-source counts."""
    rng = random.Random(seed)
    mixed, counts = [], {}
    for source in sources:
        examples = source_examples(source, seed)
        if not examples:
            raise DataError(f"data source {source.path} yielded no examples")
        weighted = apply_weight(examples, source.weight, rng)
        counts[source.path] = {"read": len(examples), "weighted": len(weighted)}
        mixed.extend(weighted)
    examples = check_leaks(dedup(mixed), leak) if len(sources) else []
    rng.shuffle(examples)
    counts["total"] = len(examples)
    return examples, counts
