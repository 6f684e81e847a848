"""Pooling: one vector per text from a decoder's hidden states, for padded and packed batches.

``last`` (the paper's, and every shipped adapter's) takes the hidden state at the final real (EOS)
token; ``mean`` averages the hidden states of all real tokens (the paper's ablation). An adapter's
``embedder.json`` names the one it was trained with.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Pick, per row, the hidden state of the last position whose mask is 1.

    Works for left and right padding alike. A row with no real token (all padding)
    yields zeros rather than an arbitrary position.

    >>> h = torch.arange(6.).view(1, 3, 2); last_token_pool(h, torch.tensor([[1, 1, 0]]))
    tensor([[2., 3.]])
    """
    mask = attention_mask.to(torch.long)
    seq_len = mask.shape[1]
    positions = torch.arange(seq_len, device=mask.device).expand_as(mask)
    last = torch.where(mask.bool(), positions, torch.full_like(positions, -1)).max(dim=1).values
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    pooled = hidden[rows, last.clamp(min=0)]
    return pooled * (last >= 0).unsqueeze(-1).to(pooled.dtype)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Per row, the mean hidden state over the positions whose mask is 1 (zeros for an all-padding row).

    >>> h = torch.arange(6.).view(1, 3, 2); mean_pool(h, torch.tensor([[1, 1, 0]]))
    tensor([[1., 2.]])
    """
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def last_token_pool_packed(hidden: torch.Tensor, cu_seq_lens: torch.Tensor) -> torch.Tensor:
    """Hidden state at the last token of each packed text: ``hidden`` is (1, total, dim), text i spans
    ``[cu_seq_lens[i], cu_seq_lens[i+1])`` (``embedder.packing.pack_batch``).

    >>> last_token_pool_packed(torch.arange(10.).view(1, 5, 2), torch.tensor([0, 2, 5]))
    tensor([[2., 3.],
            [8., 9.]])
    """
    return hidden[0, cu_seq_lens[1:].to(hidden.device) - 1]


def mean_pool_packed(hidden: torch.Tensor, cu_seq_lens: torch.Tensor) -> torch.Tensor:
    """Mean hidden state over each packed text's span.

    >>> mean_pool_packed(torch.arange(10.).view(1, 5, 2), torch.tensor([0, 2, 5]))
    tensor([[1., 2.],
            [6., 7.]])
    """
    lengths = cu_seq_lens.diff().to(hidden.device)
    texts = torch.arange(len(lengths), device=hidden.device).repeat_interleave(lengths)
    sums = torch.zeros(len(lengths), hidden.shape[-1], dtype=hidden.dtype, device=hidden.device)
    sums.index_add_(0, texts, hidden[0])
    return sums / lengths.unsqueeze(-1).to(hidden.dtype)


Pool = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# name -> (padded batch: hidden + attention mask, packed batch: hidden + cu_seq_lens)
POOLING: dict[str, tuple[Pool, Pool]] = {
    "last": (last_token_pool, last_token_pool_packed),
    "mean": (mean_pool, mean_pool_packed),
}


def get_pooling(name: str) -> tuple[Pool, Pool]:
    """The ``(padded, packed)`` pooling functions called ``name``; a clear error for an unknown one."""
    try:
        return POOLING[name]
    except KeyError:
        raise ValueError(f"unknown pooling {name!r}; choose one of {sorted(POOLING)}") from None
