"""Turning examples into padded token batches with the embedder's own templates and EOS handling."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import torch

from embedder.batching import fit_in_template, pad_batch, tokenize_with_eos
from embedder.prompts import PromptTemplate

from .data import Example, indices_by_task

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def move_inputs(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """A padded token batch (``input_ids``, ``attention_mask``) on ``device``."""
    return {k: v.to(device) for k, v in inputs.items()}


@dataclass(frozen=True)
class Teacher:
    """A teacher's embeddings of a batch's queries and documents (same order) and the distillation settings;
    with ``lexical`` (BM25 scores, queries x documents) the teacher is their fusion, ``lexical_weight`` the
    BM25 side's weight."""

    queries: torch.Tensor
    documents: torch.Tensor
    weight: float
    temperature: float
    lexical: torch.Tensor | None = None
    lexical_weight: float = 0.0

    def to(self, device: torch.device) -> Teacher:
        lexical = None if self.lexical is None else self.lexical.to(device)
        return Teacher(
            self.queries.to(device),
            self.documents.to(device),
            self.weight,
            self.temperature,
            lexical,
            self.lexical_weight,
        )


@dataclass(frozen=True)
class Batch:
    """Padded queries and documents (positives first, then the hard negatives that exist); with
    ``teacher``, a teacher's embeddings of the same texts for distillation."""

    queries: dict[str, torch.Tensor]
    documents: dict[str, torch.Tensor]
    teacher: Teacher | None = None

    @property
    def size(self) -> int:
        return int(self.queries["input_ids"].shape[0])

    def to(self, device: torch.device) -> Batch:
        return Batch(
            move_inputs(self.queries, device),
            move_inputs(self.documents, device),
            self.teacher.to(device) if self.teacher else None,
        )


@dataclass(frozen=True)
class ScoredPairs:
    """Padded first and second sentences of graded pairs, and their gold scores (for :func:`loss.cosent`)."""

    first: dict[str, torch.Tensor]
    second: dict[str, torch.Tensor]
    gold: torch.Tensor

    def to(self, device: torch.device) -> ScoredPairs:
        return ScoredPairs(
            move_inputs(self.first, device), move_inputs(self.second, device), self.gold.to(device)
        )


class Collator:
    """Formats texts with a prompt template, tokenises with an appended EOS, pads dynamically."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        template: PromptTemplate,
        query_max_length: int,
        doc_max_length: int,
    ):
        self.tokenizer = tokenizer
        self.template = template
        self.query_max_length = query_max_length
        self.doc_max_length = doc_max_length

    def __call__(self, examples: Sequence[Example]) -> Batch:
        query_wraps = [partial(self.template.format_query, ex.instruction) for ex in examples]
        docs = document_texts(examples)
        doc_wraps = [self.template.format_document] * len(docs)
        return Batch(
            self._pad([ex.query for ex in examples], query_wraps, self.query_max_length),
            self._pad(docs, doc_wraps, self.doc_max_length),
        )

    def scored_pairs(
        self, first: Sequence[str], second: Sequence[str], gold: Sequence[float], instruction: str
    ) -> ScoredPairs:
        """Both sentences of each pair formatted as queries with ``instruction`` (symmetric, as STS is scored)."""
        wraps = [partial(self.template.format_query, instruction)] * len(first)
        return ScoredPairs(
            self._pad(list(first), wraps, self.query_max_length),
            self._pad(list(second), wraps, self.query_max_length),
            torch.tensor(list(gold), dtype=torch.float32),
        )

    def _pad(self, texts: list[str], wraps: list, max_length: int) -> dict[str, torch.Tensor]:
        """The embedder's own formatting: texts cut inside their template, EOS appended, padded."""
        formatted, _ = fit_in_template(self.tokenizer, texts, wraps, max_length)
        ids, _ = tokenize_with_eos(self.tokenizer, formatted, max_length)
        return pad_batch(ids, self.tokenizer.pad_token_id)


def document_texts(examples: Sequence[Example]) -> list[str]:
    """A batch's documents in the order of its ``documents``: every positive, then the negatives that exist."""
    return [ex.positive for ex in examples] + [ex.negative for ex in examples if ex.negative]


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, bucket_batches: int, seed: int
) -> Iterator[list[int]]:
    """Batches of similar-length examples (less padding), in a seeded random order.

    Examples are cut into windows of ``bucket_batches * batch_size`` in their (already shuffled)
    order, sorted by length inside each window, split into batches, then the batches shuffled.
    A trailing partial batch is dropped (in-batch negatives want full batches).
    """
    rng = random.Random(seed)
    window = max(1, bucket_batches) * batch_size
    batches = []
    for start in range(0, len(lengths), window):
        order = sorted(range(start, min(start + window, len(lengths))), key=lambda i: lengths[i])
        batches += [order[i : i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    rng.shuffle(batches)
    yield from batches


def task_batches(
    examples: Sequence[Example], lengths: Sequence[int], batch_size: int, bucket_batches: int, seed: int
) -> list[list[int]]:
    """Batches that each hold examples of one task (instruction), length-bucketed inside it, in a seeded
    random order: in-batch negatives from the query's own task are harder ones (as GTE and BGE train).
    Inside one task a batch more often repeats a query or a positive, which would make a relevant
    document a negative: each batch keeps only the first example of each (the rest come back in other epochs)."""
    members = indices_by_task(examples)
    batches = []
    for offset, task in enumerate(sorted(members)):
        rows = members[task]
        parts = bucketed_batches([lengths[i] for i in rows], batch_size, bucket_batches, seed + offset)
        batches += [without_repeats([rows[i] for i in part], examples) for part in parts]
    random.Random(seed).shuffle(batches)
    return batches


def without_repeats(batch: list[int], examples: Sequence[Example]) -> list[int]:
    """The batch without examples whose query or positive an earlier one in it already has."""
    queries, positives, kept = set(), set(), []
    for index in batch:
        example = examples[index]
        if example.query in queries or example.positive in positives:
            continue
        queries.add(example.query)
        positives.add(example.positive)
        kept.append(index)
    return kept
