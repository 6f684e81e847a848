"""InfoNCE with cosine similarity over in-batch and hard negatives: a pure function of embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(queries: torch.Tensor, documents: torch.Tensor, temperature: float = 0.02,
             targets: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy of each query against every document, scored by cosine / temperature.

    ``documents`` holds the positives first (row ``i`` is query ``i``'s positive unless
    ``targets`` says otherwise), then any hard negatives; every other row is a negative
    for every query (in-batch negatives).

    >>> q = torch.eye(2); info_nce(q, q, temperature=1.0).round(decimals=4)
    tensor(0.3133)
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if documents.shape[0] < queries.shape[0]:
        raise ValueError(f"need a positive per query: {queries.shape[0]} queries, {documents.shape[0]} documents")
    scores = F.normalize(queries, dim=-1) @ F.normalize(documents, dim=-1).T
    if targets is None:
        targets = torch.arange(queries.shape[0], device=queries.device)
    return F.cross_entropy(scores.float() / temperature, targets)
