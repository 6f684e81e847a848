"""A teacher for distillation: an encoder's embeddings of a batch's texts, cached by text, optionally fused
with BM25 over the batch, and the false-negative filter (a hard negative that the dense teacher scores above
the positive is dropped)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from .collate import Teacher, document_texts
from .config import DistillConfig
from .data import Example

if TYPE_CHECKING:
    from embedder.protocol import Encoder


class TeacherScorer:
    """Embeds queries (with their instruction) and documents with an ``embedder`` encoder spec,
    keeping every vector in memory so a text is encoded once per run; ``autocast`` is the context the
    teacher runs in (the step's bf16 autocast when ``config.mixed_precision``)."""

    def __init__(
        self,
        config: DistillConfig,
        encoder: Encoder | None = None,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ):
        from embedder.evaluation.bm25 import BM25Retriever
        from embedder.registry import load_encoder

        self.config = config
        self.encoder = encoder if encoder is not None else load_encoder(config.teacher)
        if hasattr(self.encoder, "show_progress"):
            self.encoder.show_progress = False
        self.autocast = autocast
        self.vectors: dict[tuple[str, str | None], np.ndarray] = {}
        self.lexical = BM25Retriever() if config.lexical_weight > 0 else None

    def _embed(self, texts: Sequence[str], instructions: Sequence[str | None]) -> np.ndarray:
        keys = list(zip(texts, instructions, strict=True))
        todo = list(dict.fromkeys(k for k in keys if k not in self.vectors))
        for instruction in dict.fromkeys(i for _, i in todo):
            group = [t for t, i in todo if i == instruction]
            with self.autocast():
                vectors = (
                    self.encoder.encode_documents(group)
                    if instruction is None
                    else self.encoder.encode_queries(group, instruction)
                )
            self.vectors.update(zip(((t, instruction) for t in group), vectors, strict=True))
        return np.stack([self.vectors[k] for k in keys])

    def query_vectors(self, examples: Sequence[Example]) -> np.ndarray:
        return self._embed([ex.query for ex in examples], [ex.instruction for ex in examples])

    def document_vectors(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, [None] * len(texts))

    def first_true_negative(self, example: Example, candidates: Sequence[str]) -> str | None:
        """The first candidate that the teacher does not score above the example's positive; ``None``
        if every candidate looks like a false negative (an unjudged relevant document)."""
        if not candidates:
            return None
        query = self.query_vectors([example])[0]
        positive, *others = self.document_vectors([example.positive, *candidates])
        threshold = float(query @ positive)
        return next(
            (
                text
                for text, vector in zip(candidates, others, strict=True)
                if float(query @ vector) <= threshold
            ),
            None,
        )

    def drop_false_negatives(self, examples: Sequence[Example]) -> list[Example]:
        """The examples with every hard negative that the teacher scores above its positive removed."""
        if not self.config.drop_false_negatives:
            return list(examples)
        return [
            replace(ex, negative=None)
            if ex.negative and self.first_true_negative(ex, [ex.negative]) is None
            else ex
            for ex in examples
        ]

    def batch_teacher(self, examples: Sequence[Example]) -> Teacher:
        """The teacher's embeddings of the batch ``Collator`` makes from ``examples`` (same order), and
        its BM25 scores of the batch when it is a fused teacher."""
        texts = document_texts(examples)
        queries = torch.from_numpy(self.query_vectors(examples))
        documents = torch.from_numpy(self.document_vectors(texts))
        lexical = None
        if self.config.lexical_weight > 0:
            lexical = torch.from_numpy(self.lexical.score_matrix([ex.query for ex in examples], texts))
        return Teacher(
            queries,
            documents,
            self.config.weight,
            self.config.temperature,
            lexical,
            self.config.lexical_weight,
        )
