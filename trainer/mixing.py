"""Turning configured sources into one training list: BM25 hard negatives, weights, dedup, leak check;
and the graded pairs of the CoSENT term."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from embedder.datasets import BeirDataset, load_beir
from embedder.evaluation.devsets import StsPairs, read_sts_pairs

from .config import LeakConfig, SourceConfig
from .data import DataError, Example, read_examples, read_sts, sts_sentences, task_instruction

log = logging.getLogger(__name__)
T = TypeVar("T")


def beir_examples(source: SourceConfig) -> list[Example]:
    """(query, a judged positive, the best-ranked BM25 document that is not judged relevant).

    The first ``holdout_queries`` of a shuffle seeded by ``holdout_seed`` are left out
    (see :func:`holdout_query_ids`).
    """
    data = load_beir(source.path, source.split)
    texts = dict(zip(data.corpus, data.document_texts(), strict=True))
    instruction = task_instruction(source.task or data.name)
    held_out = set(holdout_query_ids(data, source.holdout_queries, source.holdout_seed))
    qids = [q for q in sorted(data.qrels) if q not in held_out]
    negatives = bm25_negatives(data, qids)
    examples = []
    for qid in qids:
        positives = sorted(
            (d for d, s in data.qrels[qid].items() if s > 0), key=lambda d: (-data.qrels[qid][d], d)
        )[: source.max_positives]
        for doc in positives:
            examples.append(
                Example(
                    data.queries[qid],
                    texts[doc],
                    negatives.get(qid),
                    instruction,
                    f"{source.path}:{source.split}:{qid}",
                )
            )
    return examples


def holdout_query_ids(data: BeirDataset, count: int, seed: int = 0) -> list[str]:
    """A seeded slice of a split's queries kept out of training for dev evaluation."""
    qids = sorted(data.qrels)
    random.Random(seed).shuffle(qids)
    return sorted(qids[:count])


def bm25_negatives(data: BeirDataset, qids: Sequence[str], depth: int = 30) -> dict[str, str]:
    """For each query, the highest-ranked BM25 document not judged relevant (bm25s)."""
    import bm25s

    doc_ids, texts = list(data.corpus), data.document_texts()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    tokens = bm25s.tokenize([data.queries[q] for q in qids], stopwords="en", show_progress=False)
    ranked, _ = retriever.retrieve(tokens, k=min(depth, len(doc_ids)), show_progress=False)
    out = {}
    for qid, row in zip(qids, ranked, strict=True):
        judged = data.qrels[qid]
        hit = next((i for i in row if doc_ids[i] not in judged), None)
        if hit is not None:
            out[qid] = texts[hit]
    return out


def source_examples(source: SourceConfig) -> list[Example]:
    """All examples of one source, before weighting."""
    if source.kind == "beir":
        return beir_examples(source)
    if source.kind == "sts":
        return read_sts(source.path, source.min_score, source.task or "sts")
    return read_examples(source.path, source.task)


def apply_weight(examples: list[Example], weight: float, rng: random.Random) -> list[Example]:
    """``weight`` copies of the list: whole repeats plus a seeded sample for the fraction."""
    whole, fraction = int(weight), weight - int(weight)
    return examples * whole + rng.sample(examples, round(fraction * len(examples)))


def dedup(examples: Iterable[Example], seen: set | None = None) -> list[Example]:
    """Drop repeated (instruction, query, positive) triples, keeping the first; ``seen`` carries the
    triples of earlier calls (and is updated), so sources can be deduplicated against each other."""
    seen = set() if seen is None else seen
    out = []
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
        data = load_beir(folder, leak.split)
        texts.update(normalise(q) for q in data.queries.values())
        if leak.documents:
            judged = {d for docs in data.qrels.values() for d in docs}
            texts.update(
                normalise(t) for d, t in zip(data.corpus, data.document_texts(), strict=True) if d in judged
            )
    for path in leak.sts:
        texts.update(normalise(s) for s in sts_sentences(path))
    return texts


def check_leaks(examples: list[Example], leak: LeakConfig) -> list[Example]:
    """Examples whose query, positive or negative is evaluation text: an error naming the first
    (policy ``error``) or dropped with a warning (policy ``drop``)."""
    return drop_leaks(
        examples, lambda ex: (ex.query, ex.positive, ex.negative or ""), lambda ex: ex.origin, leak
    )


def drop_leaks(
    items: list[T], texts: Callable[[T], Sequence[str]], origin: Callable[[T], str], leak: LeakConfig
) -> list[T]:
    """``items`` without those any of whose ``texts`` is evaluation text, as ``leak.policy`` says: an
    error naming the first one's ``origin`` (``error``), or dropped with a warning (``drop``)."""
    forbidden = evaluation_texts(leak)
    if not forbidden:
        return items
    clean = []
    for item in items:
        item_texts = texts(item)
        if any(normalise(t) in forbidden for t in item_texts):
            if leak.policy == "error":
                raise DataError(
                    f"{origin(item)}: evaluation-split text enters training (leak): {item_texts[0][:80]!r}"
                )
            continue
        clean.append(item)
    if len(clean) < len(items):
        log.warning("dropped %d training items that contain evaluation-split text", len(items) - len(clean))
    return clean


def cosent_pairs(path: str, leak: LeakConfig) -> StsPairs:
    """The graded pairs of an STS Benchmark file for the CoSENT term, leak-checked like the examples."""
    pairs = read_sts_pairs(path)
    rows = drop_leaks(
        list(range(len(pairs.scores))),
        lambda i: (pairs.first[i], pairs.second[i]),
        lambda i: f"{path}:{i + 1}",
        leak,
    )
    return StsPairs(
        pairs.name,
        tuple(pairs.first[i] for i in rows),
        tuple(pairs.second[i] for i in rows),
        tuple(pairs.scores[i] for i in rows),
    )


def build_dataset(
    sources: Sequence[SourceConfig], leak: LeakConfig, seed: int = 0
) -> tuple[list[Example], dict]:
    """The weighted, deduplicated, leak-checked, shuffled training list and per-source counts."""
    rng = random.Random(seed)
    mixed, counts, seen = [], {}, set()
    for source in sources:
        examples = source_examples(source)
        if not examples:
            raise DataError(f"data source {source.path} yielded no examples")
        # dedup before weighting, so that a weight above 1 repeats a source instead of being undone
        weighted = apply_weight(dedup(examples, seen), source.weight, rng)
        counts[source.path] = {"read": len(examples), "weighted": len(weighted)}
        mixed.extend(weighted)
    examples = check_leaks(mixed, leak) if len(sources) else []
    rng.shuffle(examples)
    counts["total"] = len(examples)
    return examples, counts
