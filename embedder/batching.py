"""Tokenisation with an appended EOS, padding, and length-sorted batching (shared with the trainer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def tokenize_with_eos(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int
) -> tuple[list[list[int]], int]:
    """Token ids per text, cut to ``max_length - 1`` and ended by EOS; returns ``(ids, n_truncated)``.

    EOS is appended by hand: tokenizers differ on whether (and transformers versions on
    whether silently) they add it, and last-token pooling is only right if it is there.
    """
    eos = tokenizer.eos_token_id
    encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
    ids, truncated = [], 0
    for row in encoded:
        if row and row[-1] == eos:
            row = row[:-1]
        if len(row) > max_length - 1:
            row, truncated = row[: max_length - 1], truncated + 1
        ids.append([*row, eos])
    return ids, truncated


def fit_in_template(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    wraps: Sequence[Callable[[str], str]],
    max_length: int,
) -> tuple[list[str], int]:
    """Wrap each text in its prompt, cutting the text (never the prompt) so that the whole, EOS
    included, fits in ``max_length`` tokens; returns ``(formatted, n_truncated)``.

    Cutting the formatted string instead would drop a template's suffix (PromptEOL's
    ``means in one word:"``) from every long text, and the last token would no longer summarise it.
    """
    if not texts:
        return [], 0
    rows = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    formatted, truncated = [], 0
    for text, row, wrap in zip(texts, rows, wraps, strict=True):
        excess = length_with_eos(tokenizer, wrap(text)) - max_length
        if excess > 0:
            truncated += 1
            keep = len(row) - excess
            while excess > 0:  # decoding and re-tokenising can merge or split a token at the cut
                if keep < 1:
                    raise ValueError(
                        f"max_length={max_length} leaves no room for text beside the prompt {wrap('')!r}"
                    )
                text = tokenizer.decode(row[:keep])
                excess = length_with_eos(tokenizer, wrap(text)) - max_length
                keep -= max(excess, 1)
        formatted.append(wrap(text))
    return formatted, truncated


def length_with_eos(tokenizer: PreTrainedTokenizerBase, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=True)["input_ids"]) + 1


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int, side: str = "right") -> dict[str, torch.Tensor]:
    """Pad id lists to one length; returns ``input_ids`` and ``attention_mask`` tensors."""
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
        input_ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, longest first (so padding is minimal
    and an out-of-memory error shows up on the first batch)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def token_budget_batches(lengths: Sequence[int], max_tokens: int) -> Iterator[list[int]]:
    """Indices grouped longest first into batches of at most ``max_tokens`` tokens in all (a longer
    text goes alone): the batching for packed inputs, whose cost is their tokens, not their count."""
    batch: list[int] = []
    total = 0
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if batch and total + lengths[i] > max_tokens:
            yield batch
            batch, total = [], 0
        batch.append(i)
        total += lengths[i]
    if batch:
        yield batch
