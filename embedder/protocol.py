"""The one interface every embedding backend satisfies."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to L2-normalised float32 vectors of shape ``(n, dim)``.

    Queries carry a task instruction; documents never do (the paper's asymmetry).
    ``name`` identifies everything that determines the vectors (model, adapter,
    template, depth), so it can key caches and refuse mismatched indexes.
    """

    name: str
    dim: int

    def encode_queries(self, texts: list[str], instruction: str) -> np.ndarray: ...

    def encode_documents(self, texts: list[str]) -> np.ndarray: ...


def check_texts(texts: object) -> list[str]:
    """Validate a batch of input texts, naming the first offending item."""
    if isinstance(texts, str):
        raise TypeError("expected a list of strings, got a single string; wrap it in a list")
    try:
        items = list(texts)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"expected a list of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"text at index {i} is {type(text).__name__}, expected str")
        if not text.strip():
            raise ValueError(f"text at index {i} is empty")
        if (position := surrogate_at(text)) is not None:
            raise ValueError(
                f"text at index {i} is not valid Unicode: a lone surrogate at character {position} "
                "(bytes that are not UTF-8?)"
            )
    return items


def surrogate_at(text: str) -> int | None:
    """Position of the first lone surrogate (what undecodable bytes become in Python), or ``None``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return err.start
    return None


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
