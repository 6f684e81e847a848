"""InfoNCE with cosine similarity over in-batch and hard negatives, and its distilled form: pure functions."""

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


def row_min_max(scores: torch.Tensor) -> torch.Tensor:
    """Each row mapped linearly onto [0, 1] (its best 1, its worst 0); a constant row maps to 1.

    >>> row_min_max(torch.tensor([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]]))
    tensor([[0.0000, 1.0000, 0.5000],
            [1.0000, 1.0000, 1.0000]])
    """
    low, high = scores.min(dim=-1, keepdim=True).values, scores.max(dim=-1, keepdim=True).values
    span = high - low
    return torch.where(span > 0, (scores - low) / span.clamp_min(1e-12), torch.ones_like(scores))


def fused_teacher_scores(dense: torch.Tensor, lexical: torch.Tensor, lexical_weight: float) -> torch.Tensor:
    """A dense and a lexical teacher fused per query, as hybrid search fuses them (linear, min-max):
    ``(1 - w) * row_min_max(dense) + w * row_min_max(lexical)``; ``w = 0`` keeps the dense ranking."""
    if dense.shape != lexical.shape:
        raise ValueError(
            f"dense {tuple(dense.shape)} and lexical {tuple(lexical.shape)} scores differ in shape"
        )
    if not 0.0 <= lexical_weight <= 1.0:
        raise ValueError(f"lexical_weight must be in [0, 1], got {lexical_weight}")
    return (1.0 - lexical_weight) * row_min_max(dense.float()) + lexical_weight * row_min_max(lexical.float())


def info_nce_distilled(
    queries: torch.Tensor,
    documents: torch.Tensor,
    temperature: float,
    teacher_scores: torch.Tensor,
    weight: float,
    teacher_temperature: float,
) -> torch.Tensor:
    """InfoNCE on the labels plus ``weight`` x KL towards the teacher's distribution over the same
    candidates (``teacher_scores``: queries x documents, in the student's row and column order)."""
    logits = F.normalize(queries, dim=-1) @ F.normalize(documents, dim=-1).T / temperature
    targets = torch.arange(queries.shape[0], device=queries.device)
    return F.cross_entropy(logits.float(), targets) + weight * distillation_kl(
        logits, teacher_scores, teacher_temperature
    )


def cosent(
    first: torch.Tensor, second: torch.Tensor, gold: torch.Tensor, scale: float = 20.0
) -> torch.Tensor:
    """CoSENT (Su 2022) over graded pairs: ``log(1 + sum exp(scale * (cos_j - cos_i)))`` over every two
    pairs ``i, j`` whose gold scores say ``i`` is more similar than ``j``; a ranking loss on the cosines
    themselves, as STS is scored (Spearman), where InfoNCE sees only positives and negatives.

    >>> a = torch.tensor([[1.0, 0.0], [1.0, 0.0]]); b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(cosent(a, b, torch.tensor([5.0, 0.0]), scale=1.0)), 4)  # right order: log(1 + e^-1)
    0.3133
    """
    if not first.shape[0] == second.shape[0] == gold.shape[0]:
        raise ValueError(
            f"{first.shape[0]} first and {second.shape[0]} second sentences for {gold.shape[0]} gold scores"
        )
    cosine = scale * (F.normalize(first.float(), dim=-1) * F.normalize(second.float(), dim=-1)).sum(-1)
    ranked_above = gold[:, None] > gold[None, :]  # [i, j]: pair i should score above pair j
    violations = (cosine[None, :] - cosine[:, None])[ranked_above]
    return torch.logsumexp(torch.cat([violations.new_zeros(1), violations]), dim=0)
