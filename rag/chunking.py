"""Split text into overlapping windows of tokens, keeping character offsets for showing hits in context.

Tokens come from the encoder's own tokenizer when it has one (so a chunk fits the model's window
exactly), else from a whitespace split; a chunk starts and ends where a word does whenever it can.
Pure functions; no model needed to test them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

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


def tokenizer_spans(tokenizer: PreTrainedTokenizerBase) -> TokenSpans:
    """Token character spans from a fast Hugging Face tokenizer (no special tokens)."""

    def spans(text: str) -> list[Span]:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]

    return spans


def spans_for(encoder: object) -> TokenSpans:
    """The encoder's tokenizer when it exposes a fast one (``encoder.tokenizer``), else whitespace words."""
    tokenizer = getattr(encoder, "tokenizer", None)
    return tokenizer_spans(tokenizer) if getattr(tokenizer, "is_fast", False) else whitespace_spans


def starts_word(text: str, spans: list[Span], j: int) -> bool:
    """Whether token ``j`` begins a word: it follows a gap, or punctuation lies on either side of the cut."""
    if j == 0 or j >= len(spans):
        return True
    start = spans[j][0]
    return start > spans[j - 1][1] or not is_word_char(text[start]) or not is_word_char(text[start - 1])


def is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def window_end(text: str, spans: list[Span], first: int, chunk_tokens: int) -> int:
    """The token index a window from ``first`` ends at: ``chunk_tokens`` on, moved back to the start of a
    word when one lies in the window's second half (a long unbroken run is cut where it must be)."""
    end = min(first + chunk_tokens, len(spans))
    for cut in range(end, first + chunk_tokens // 2, -1):
        if starts_word(text, spans, cut):
            return cut
    return end


def window_start(text: str, spans: list[Span], end: int, overlap: int, previous: int) -> int:
    """Where the next window starts: ``overlap`` tokens before ``end``, moved forward to a word's start."""
    start = max(end - overlap, previous + 1)
    for cut in range(start, end + 1):
        if starts_word(text, spans, cut):
            return cut
    return start


def chunk_text(text: str, spans: TokenSpans, chunk_tokens: int, overlap: int) -> list[Chunk]:
    """Windows of at most ``chunk_tokens`` tokens, each sharing up to ``overlap`` tokens with the previous one;
    windows start and end on token boundaries that are also word boundaries where possible.

    ``[c.text for c in chunk_text("a b c d e", whitespace_spans, 2, 1)] == ["a b", "b c", "c d", "d e"]``
    Whitespace-only windows are dropped; ordinals count the kept chunks.
    """
    if not 0 <= overlap < chunk_tokens:
        raise ValueError(
            f"need 0 <= overlap < chunk_tokens, got overlap={overlap}, chunk_tokens={chunk_tokens}"
        )
    tokens = spans(text)
    chunks: list[Chunk] = []
    first = 0
    while first < len(tokens):
        end = window_end(text, tokens, first, chunk_tokens)
        start, stop = tokens[first][0], tokens[end - 1][1]
        piece = text[start:stop]
        stripped = piece.lstrip()  # byte-level BPE tokens carry their leading space
        if stripped.strip():
            start += len(piece) - len(stripped)
            chunks.append(Chunk(len(chunks), start, stop, text[start:stop], end - first))
        if end == len(tokens):
            break
        first = window_start(text, tokens, end, overlap, first)
    return chunks
