"""InfoNCE on hand-built tensors, against a plain cross-entropy reference; CoSENT on hand-built cosines."""

import math

import pytest
import torch
import torch.nn.functional as F

from trainer.loss import cosent, info_nce


def test_hand_built_two_by_two():
    queries = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    documents = torch.tensor([[3.0, 0.0], [0.0, 1.0]])  # cosine: identity matrix
    expected = -math.log(math.e / (math.e + 1))  # each row: softmax of [1, 0] at temperature 1
    assert info_nce(queries, documents, temperature=1.0).item() == pytest.approx(expected, rel=1e-6)


def test_hard_negatives_add_columns_and_lower_temperature_sharpens():
    queries = torch.tensor([[1.0, 0.0]])
    documents = torch.tensor([[1.0, 0.0], [0.6, 0.8]])  # positive, then a hard negative with cosine 0.6
    for temperature in (1.0, 0.1):
        expected = -math.log(1 / (1 + math.exp((0.6 - 1.0) / temperature)))
        assert info_nce(queries, documents, temperature).item() == pytest.approx(expected, rel=1e-5)


def test_equals_cross_entropy_reference():
    generator = torch.Generator().manual_seed(0)
    queries, documents = torch.randn(5, 8, generator=generator), torch.randn(9, 8, generator=generator)
    cosine = torch.stack(
        [torch.stack([torch.dot(q, d) / (q.norm() * d.norm()) for d in documents]) for q in queries]
    )
    logits = cosine / 0.02
    reference = -sum(logits[i, i] - torch.logsumexp(logits[i], 0) for i in range(5)) / 5
    assert info_nce(queries, documents, 0.02).item() == pytest.approx(reference.item(), rel=1e-5)


def test_explicit_targets_and_validation():
    queries = torch.tensor([[1.0, 0.0]])
    documents = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert info_nce(queries, documents, 0.02, targets=torch.tensor([1])).item() < 1e-6
    with pytest.raises(ValueError, match="temperature"):
        info_nce(queries, documents, 0.0)
    with pytest.raises(ValueError, match="positive per query"):
        info_nce(torch.ones(3, 2), torch.ones(2, 2))


def test_distillation_kl_is_zero_when_student_matches_teacher_and_positive_otherwise():
    from trainer.loss import distillation_kl

    teacher = torch.tensor([[0.9, 0.1, 0.3], [0.2, 0.8, 0.1]])
    assert distillation_kl(teacher / 0.05, teacher, 0.05).item() == pytest.approx(0.0, abs=1e-6)
    flipped = teacher.flip(-1)
    p = torch.softmax(teacher / 0.05, -1)
    expected = (
        (p * (torch.log_softmax(teacher / 0.05, -1) - torch.log_softmax(flipped / 0.05, -1))).sum(-1).mean()
    )
    assert distillation_kl(flipped / 0.05, teacher, 0.05).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="do not match"):
        distillation_kl(teacher, teacher[:, :2], 0.05)


def test_distilled_loss_is_info_nce_plus_weighted_kl():
    from trainer.loss import distillation_kl, info_nce_distilled

    generator = torch.Generator().manual_seed(0)
    q, d = torch.randn(3, 4, generator=generator), torch.randn(5, 4, generator=generator)
    teacher = torch.rand(3, 5, generator=generator)
    logits = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d, dim=-1).T / 0.02
    expected = info_nce(q, d, 0.02) + 0.5 * distillation_kl(logits, teacher, 0.05)
    assert info_nce_distilled(q, d, 0.02, teacher, 0.5, 0.05).item() == pytest.approx(
        expected.item(), rel=1e-6
    )
    assert info_nce_distilled(q, d, 0.02, teacher, 0.0, 0.05).item() == pytest.approx(
        info_nce(q, d, 0.02).item()
    )


def test_row_min_max_maps_each_row_onto_unit_range():
    from trainer.loss import row_min_max

    scores = torch.tensor([[2.0, 4.0, 3.0], [-1.0, -1.0, -1.0], [0.0, 10.0, 5.0]])
    expected = torch.tensor([[0.0, 1.0, 0.5], [1.0, 1.0, 1.0], [0.0, 1.0, 0.5]])
    assert torch.equal(row_min_max(scores), expected)


def test_fused_teacher_is_the_weighted_sum_of_normalised_sides():
    from trainer.loss import fused_teacher_scores

    dense = torch.tensor([[0.9, 0.5, 0.1]])  # normalised: 1, 0.5, 0
    lexical = torch.tensor([[0.0, 6.0, 3.0]])  # normalised: 0, 1, 0.5
    fused = fused_teacher_scores(dense, lexical, 0.25)
    assert torch.allclose(fused, torch.tensor([[0.75, 0.625, 0.125]]))
    # the lexical side can overturn the dense ranking: document 1 wins once BM25 weighs enough
    assert fused_teacher_scores(dense, lexical, 0.6).argmax().item() == 1
    assert torch.allclose(fused_teacher_scores(dense, lexical, 0.0), torch.tensor([[1.0, 0.5, 0.0]]))
    # a query whose BM25 row is all zero (no shared term) takes the dense ranking plus a constant
    flat = fused_teacher_scores(dense, torch.zeros(1, 3), 0.5)
    assert torch.equal(flat.argsort(descending=True), dense.argsort(descending=True))
    with pytest.raises(ValueError, match="shape"):
        fused_teacher_scores(dense, lexical[:, :2], 0.5)
    with pytest.raises(ValueError, match="lexical_weight"):
        fused_teacher_scores(dense, lexical, 1.5)


def test_cosent_is_small_when_cosines_follow_the_gold_order_and_large_when_reversed():
    first = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    second = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), dim=-1)  # cosines 1, 0.71, 0
    gold = torch.tensor([5.0, 3.0, 0.0])
    right, wrong = cosent(first, second, gold), cosent(first, second, gold.flip(0))
    # by hand: the three ordered couples (i above j) each add exp(20 * (cos_j - cos_i))
    cos = torch.tensor([1.0, 2**-0.5, 0.0])
    by_hand = torch.log(1 + sum(torch.exp(20 * (cos[j] - cos[i])) for i, j in [(0, 1), (0, 2), (1, 2)]))
    assert right.item() == pytest.approx(by_hand.item(), rel=1e-5) and right.item() < 1e-2
    assert wrong.item() > 10
    assert cosent(first, second, torch.tensor([2.0, 2.0, 2.0])).item() == 0.0  # ties rank nothing


def test_cosent_gradient_pulls_an_under_scored_pair_together():
    first = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    second = torch.tensor([[0.0, 1.0], [1.0, 1.0]], requires_grad=True)  # the gold-best pair scores lowest
    cosent(first, second, torch.tensor([5.0, 1.0])).backward()
    assert second.grad[0, 0] < 0  # descending the loss moves pair 0's second sentence towards its first


def test_cosent_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="2 first and 1 second sentences for 2 gold scores"):
        cosent(torch.ones(2, 3), torch.ones(1, 3), torch.ones(2))
