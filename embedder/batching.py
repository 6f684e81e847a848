"""Tokenisation with an appended EOS, padding, and length-sorted batching (shared with the trainer)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


def tokenize_with_eos(tokenizer, texts: Sequence[str], max_length: int) -> tuple[list[list[int]], int]:
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
