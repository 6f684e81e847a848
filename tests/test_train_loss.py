"""InfoNCE on hand-built tensors, against a plain cross-entropy reference."""

import math

import pytest
import torch

from trainer.loss import info_nce


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
    cosine = torch.stack([torch.stack([torch.dot(q, d) / (q.norm() * d.norm()) for d in documents])
                          for q in queries])
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
