"""Split text into overlapping windows of tokens, keeping character offsets for showing hits in context.

Tokens come from the encoder's own tokenizer when it has one (so a chunk fits the model's window
exactly), else from a whitespace split. Pure functions; no model needed to test them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Span = tuple[int, int]
TokenSpans = Callable[[str], list[Span]]
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    """One window of a document: ``text == document[start:end]``; ``tokens`` counts its tokens."""

    ordinal: int
    start: int
    end: int
    text: str
    tokens: int


def whitespace_spans(text: str) -> list[Span]:
    """``whitespace_spans("a bc") == [(0, 1), (2, 4)]``"""
    return [match.span() for match in WORD.finditer(text)]


def tokenizer_spans(tokenizer) -> TokenSpans:
    """Token character spans from a fast Hugging Face tokenizer (no special tokens)."""

    def spans(text: str) -> list[Span]:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]

    return spans


def spans_for(encoder: object) -> TokenSpans:
    """The encoder's tokenizer when it exposes a fast one (``encoder.tokenizer``), else whitespace words."""
    tokenizer = getattr(encoder, "tokenizer", None)
    return tokenizer_spans(tokenizer) if getattr(tokenizer, "is_fast", False) else whitespace_spans


def chunk_text(text: str, spans: TokenSpans, chunk_tokens: int, overlap: int) -> list[Chunk]:
    """Windows of ``chunk_tokens`` tokens, each sharing ``overlap`` tokens with the previous one.

    ``[c.text for c in chunk_text("a b c d e", whitespace_spans, 2, 1)] == ["a b", "b c", "c d", "d e"]``
    Whitespace-only windows are dropped; ordinals count the kept chunks.
    """
    if not 0 <= overlap < chunk_tokens:
        raise ValueError(f"need 0 <= overlap < chunk_tokens, got overlap={overlap}, chunk_tokens={chunk_tokens}")
    tokens = spans(text)
    step = chunk_tokens - overlap
    chunks: list[Chunk] = []
    for first in range(0, max(len(tokens) - overlap, 1), step):
        window = tokens[first:first + chunk_tokens]
        if not window:
            break
        start, end = window[0][0], window[-1][1]
        piece = text[start:end]
        stripped = piece.lstrip()  # byte-level BPE tokens carry their leading space
        if stripped.strip():
            start += len(piece) - len(stripped)
            chunks.append(Chunk(len(chunks), start, end, text[start:end], len(window)))
    return chunks
