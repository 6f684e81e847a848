"""Last-token pooling: the hidden state at the final real (EOS) token of each row."""

from __future__ import annotations

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
