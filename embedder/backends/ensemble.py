"""Several encoders as one: score averaging over embedders, as an ensemble of rankers.

Each member's L2-normalised vectors are laid side by side and scaled by ``1/sqrt(k)``, so the ensemble's
vectors are unit length and the cosine of two of them is the mean of the members' cosines. A better ranker
than its members where their errors differ (e.g. a distillation teacher: ``ensemble:minilm+mpnet``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..protocol import Encoder, check_texts

SEPARATOR = "+"


class EnsembleEncoder:
    """The mean-of-cosines ensemble of ``members`` (at least two encoders)."""

    def __init__(self, members: Sequence[Encoder]):
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two encoders, got {len(members)}")
        self.members = list(members)
        self.dim = sum(member.dim for member in self.members)
        self.name = "ensemble:" + SEPARATOR.join(member.name for member in self.members)
        self.scale = 1.0 / math.sqrt(len(self.members))

    def encode_queries(self, texts: list[str], instruction: str) -> np.ndarray:
        texts = check_texts(texts)
        return self._join([member.encode_queries(texts, instruction) for member in self.members])

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        texts = check_texts(texts)
        return self._join([member.encode_documents(texts) for member in self.members])

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        return (np.concatenate(parts, axis=1) * self.scale).astype(np.float32)
