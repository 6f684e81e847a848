"""Packed (unpadded) batches: every text of a batch laid end to end in one row, no padding tokens.

A padded batch spends the model's matrix multiplies on padding: for texts of mixed length that is
a third or more of the work. Packed, every projection and MLP sees only real tokens, and attention
runs causally inside each text's span (``cu_seq_lens``: where each text starts and ends), with
positions restarting at 0 for each text, so each text's vector equals the one it gets alone.

The attention is registered with transformers' ``AttentionInterface`` (which passes
``cu_seq_lens_q`` through Llama, Mistral, Qwen2 and the other decoders) as ``"e5_packed"``, and
runs as one custom op so that ``torch.compile`` keeps the per-text loop out of its graph. A layer's
``sliding_window`` (Gemma 3's local layers) is honoured inside each text. Every
transformers 5 decoder passes those keyword arguments through; for a model that drops them, a
packed batch would attend across texts, so encode it with ``packing=False``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

PACKED_ATTENTION = "e5_packed"


def pack_batch(rows: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
    """Id lists into one row: ``input_ids`` and ``position_ids`` of shape (1, total tokens), and
    ``cu_seq_lens_q`` (n_texts + 1 offsets: text i spans ``[cu[i], cu[i+1])``)."""
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
    if not len(rows) or int(lengths.min()) < 1:
        raise ValueError("pack_batch needs at least one non-empty row")
    offsets = torch.zeros(len(rows) + 1, dtype=torch.long)
    offsets[1:] = lengths.cumsum(0)
    input_ids = torch.tensor([token for row in rows for token in row], dtype=torch.long)
    position_ids = torch.arange(int(offsets[-1])) - offsets[:-1].repeat_interleave(lengths)
    return {"input_ids": input_ids[None], "position_ids": position_ids[None], "cu_seq_lens_q": offsets}


@torch.library.custom_op("e5::packed_causal_attention", mutates_args=())
def packed_causal_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    cu_seq_lens: torch.Tensor,
    scale: float,
    window: int = 0,
) -> torch.Tensor:
    """Causal attention within each packed text; (1, heads, total, head_dim) in and out (keys and
    values may have fewer heads: grouped-query attention). ``window`` > 0: a token sees only the
    ``window`` latest tokens, itself included (sliding-window layers, e.g. Gemma 3's local ones)."""
    out = torch.empty_like(query)
    bounds = cu_seq_lens.tolist()
    for start, end in itertools.pairwise(bounds):
        span = slice(start, end)
        mask = sliding_causal_mask(end - start, window, query.device) if 0 < window < end - start else None
        out[:, :, span] = F.scaled_dot_product_attention(
            query[:, :, span],
            key[:, :, span],
            value[:, :, span],
            attn_mask=mask,
            is_causal=mask is None,
            scale=scale,
            enable_gqa=True,
        )
    return out


@packed_causal_attention.register_fake
def _(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    cu_seq_lens: torch.Tensor,
    scale: float,
    window: int = 0,
) -> torch.Tensor:
    return torch.empty_like(query)


def sliding_causal_mask(length: int, window: int, device: torch.device) -> torch.Tensor:
    """Boolean (length, length) mask: query i sees keys j with ``i - window < j <= i``.

    >>> sliding_causal_mask(4, 2, torch.device("cpu")).int()
    tensor([[1, 0, 0, 0],
            [1, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 0, 1, 1]], dtype=torch.int32)
    """
    offset = torch.arange(length, device=device)
    distance = offset[:, None] - offset[None, :]
    return (distance >= 0) & (distance < window)


def packed_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    cu_seq_lens_q: torch.Tensor | None = None,
    sliding_window: int | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """transformers attention function for packed inputs (output laid out as (1, total, heads, dim));
    an ordinary padded call (no ``cu_seq_lens_q``) goes to transformers' SDPA attention unchanged."""
    if cu_seq_lens_q is None:
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            scaling=scaling,
            dropout=dropout,
            sliding_window=sliding_window,
            **kwargs,
        )
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return packed_causal_attention(query, key, value, cu_seq_lens_q, scale, sliding_window or 0).transpose(
        1, 2
    ), None


def packed_mask(*, attention_mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor | None:
    """Mask for the attention above: none for a packed call (its spans are the mask), SDPA's for a
    padded batch."""
    return None if attention_mask is None else sdpa_mask(attention_mask=attention_mask, **kwargs)


AttentionInterface.register(PACKED_ATTENTION, packed_attention_forward)
AttentionMaskInterface.register(PACKED_ATTENTION, packed_mask)
