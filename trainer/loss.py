"""InfoNCE with cosine similarity over in-batch and hard negatives: a pure function of embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(
    queries: torch.Tensor,
    documents: torch.Tensor,
    temperature: float = 0.02,
    targets: torch.Tensor | None = None,
) -> torch.Tensor:
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
        raise ValueError(
            f"need a positive per query: {queries.shape[0]} queries, {documents.shape[0]} documents"
        )
    scores = F.normalize(queries, dim=-1) @ F.normalize(documents, dim=-1).T
    if targets is None:
        targets = torch.arange(queries.shape[0], device=queries.device)
    return F.cross_entropy(scores.float() / temperature, targets)


def distillation_kl(
    student_logits: torch.Tensor, teacher_scores: torch.Tensor, teacher_temperature: float
) -> torch.Tensor:
    """KL(teacher || student) over each query's candidates, averaged over queries.

    ``student_logits`` are the student's scores already divided by its temperature (queries x
    candidates); ``teacher_scores`` the teacher's raw similarities for the same cells.

    >>> s = torch.tensor([[2.0, 0.0]]); float(distillation_kl(s, s * 0.05, 0.05)) < 1e-6
    True
    """
    if teacher_scores.shape != student_logits.shape:
        raise ValueError(
            f"teacher scores {tuple(teacher_scores.shape)} do not match the student's "
            f"{tuple(student_logits.shape)}"
        )
    target = F.log_softmax(teacher_scores.float() / teacher_temperature, dim=-1)
    return F.kl_div(
        F.log_softmax(student_logits.float(), dim=-1), target, log_target=True, reduction="batchmean"
    )


def info_nce_distilled(
    queries: torch.Tensor,
    documents: torch.Tensor,
    temperature: float,
    teacher_queries: torch.Tensor,
    teacher_documents: torch.Tensor,
    weight: float,
    teacher_temperature: float,
) -> torch.Tensor:
    """InfoNCE on the labels plus ``weight`` x KL towards the teacher's distribution over the same
    candidates (teacher embeddings in the same row order as the student's)."""
    logits = F.normalize(queries, dim=-1) @ F.normalize(documents, dim=-1).T / temperature
    targets = torch.arange(queries.shape[0], device=queries.device)
    teacher = F.normalize(teacher_queries, dim=-1) @ F.normalize(teacher_documents, dim=-1).T
    return F.cross_entropy(logits.float(), targets) + weight * distillation_kl(
        logits, teacher, teacher_temperature
    )
