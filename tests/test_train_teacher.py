"""The distillation teacher: the false-negative filter, its batch scores, and the BM25-fused teacher."""

import pytest
import torch

from embedder.evaluation.bm25 import BM25Retriever
from embedder.registry import load_encoder
from trainer.collate import document_texts
from trainer.config import DistillConfig
from trainer.data import Example
from trainer.step import contrastive_loss, teacher_scores
from trainer.teacher import TeacherScorer

EXAMPLES = [
    Example(
        "how do vaccines train immunity", "vaccines train the immune system", "cats sleep a lot", "q", "a"
    ),
    Example("why do cats sleep", "cats sleep most of the day", None, "q", "b"),
    Example("stock markets crash", "markets crash when panic spreads", "vaccines train immunity", "q", "c"),
]


def test_bm25_score_matrix_scores_shared_terms_only():
    scores = BM25Retriever().score_matrix(
        ["vaccines immunity", "zebra"], ["vaccines and immunity", "cats sleep", "immunity of cats"]
    )
    assert scores.shape == (2, 3)
    assert scores[0].argmax() == 0 and scores[0, 1] == 0 and scores[0, 2] > 0
    assert not scores[1].any()  # no shared term: every score zero, no error


def test_dense_teacher_scores_are_cosines_of_its_embeddings():
    scorer = TeacherScorer(DistillConfig(teacher="hash", drop_false_negatives=False), load_encoder("hash"))
    teacher = scorer.batch_teacher(EXAMPLES)
    assert teacher.lexical is None
    assert teacher.documents.shape[0] == len(document_texts(EXAMPLES)) == 5
    scores = teacher_scores(teacher)
    q = torch.nn.functional.normalize(teacher.queries, dim=-1)
    d = torch.nn.functional.normalize(teacher.documents, dim=-1)
    assert torch.allclose(scores, q @ d.T)


def test_fused_teacher_adds_bm25_and_changes_the_loss():
    config = DistillConfig(teacher="hash", drop_false_negatives=False, lexical_weight=0.5, temperature=0.1)
    teacher = TeacherScorer(config, load_encoder("hash")).batch_teacher(EXAMPLES)
    assert teacher.lexical is not None and teacher.lexical.shape == (3, 5)
    expected = BM25Retriever().score_matrix([ex.query for ex in EXAMPLES], document_texts(EXAMPLES))
    assert torch.allclose(teacher.lexical, torch.from_numpy(expected))
    fused = teacher_scores(teacher)
    assert fused.min() >= 0 and fused.max() <= 1 and torch.allclose(fused.max(dim=1).values, torch.ones(3))
    generator = torch.Generator().manual_seed(0)
    queries, documents = torch.randn(3, 8, generator=generator), torch.randn(5, 8, generator=generator)
    dense_only = TeacherScorer(
        DistillConfig(teacher="hash", drop_false_negatives=False, temperature=0.1), load_encoder("hash")
    ).batch_teacher(EXAMPLES)
    assert contrastive_loss(queries, documents, 0.02, teacher).item() != pytest.approx(
        contrastive_loss(queries, documents, 0.02, dense_only).item()
    )


def test_false_negative_filter_drops_a_negative_the_teacher_prefers():
    scorer = TeacherScorer(DistillConfig(teacher="hash"), load_encoder("hash"))
    flipped = Example("vaccines train immunity", "stock markets", "vaccines train immunity well", "q", "x")
    kept, dropped = scorer.drop_false_negatives([EXAMPLES[0], flipped])
    assert kept.negative == EXAMPLES[0].negative
    assert dropped.negative is None


def test_lexical_weight_is_validated():
    with pytest.raises(ValueError, match="lexical_weight"):
        DistillConfig(teacher="minilm", lexical_weight=1.5)


class AutocastProbe:
    """The hashing encoder, noting whether CPU autocast is on each time it encodes."""

    def __init__(self):
        self.inner, self.seen = load_encoder("hash"), []
        self.name, self.dim = self.inner.name, self.inner.dim

    def encode_queries(self, texts, instruction):
        self.seen.append(torch.is_autocast_enabled("cpu"))
        return self.inner.encode_queries(texts, instruction)

    def encode_documents(self, texts):
        self.seen.append(torch.is_autocast_enabled("cpu"))
        return self.inner.encode_documents(texts)


@pytest.mark.parametrize("mixed_precision", [True, False])
def test_teacher_encodes_under_the_steps_autocast_only_when_asked(mixed_precision):
    from trainer.step import autocast_for

    probe = AutocastProbe()
    config = DistillConfig(teacher="hash", drop_false_negatives=False, mixed_precision=mixed_precision)
    autocast = autocast_for(torch.device("cpu"), config.mixed_precision, fast_bf16=True)
    TeacherScorer(config, probe, autocast=autocast).batch_teacher(EXAMPLES)
    assert probe.seen and set(probe.seen) == {mixed_precision}
