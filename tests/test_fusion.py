"""Rank fusion on hand-built rankings: RRF and linear combination, ties, one-sided documents, k and weights,
and the benchmark's ``hybrid:<spec>`` runs fused by the same function."""

import pytest

from embedder.evaluation.hybrid import HybridRetriever, fuse_runs
from embedder.fusion import FusionConfig, fuse, min_max, ranks
from embedder.registry import load_model

RRF = FusionConfig(method="rrf")


def test_rrf_adds_reciprocal_ranks_of_both_sides():
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    lexical = [("c", 12.0), ("a", 3.0)]
    fused = {f.key: f for f in fuse(dense, lexical, RRF)}
    assert fused["a"].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused["b"].score == pytest.approx(1 / 62)
    assert (fused["a"].dense_rank, fused["a"].lexical_rank) == (1, 2)
    assert (fused["b"].dense_rank, fused["b"].lexical_rank) == (2, None)  # found by one side only
    assert [f.key for f in fuse(dense, lexical, RRF)] == ["a", "c", "b"]


def test_rrf_k_changes_how_much_the_top_ranks_dominate():
    dense = [("top", 1.0), ("x", 0.9), ("both", 0.8)]
    lexical = [("y", 5.0), ("z", 4.0), ("both", 3.0)]
    # k=0: rank 1 on one side (1.0) beats rank 3 on both (2/3); a large k favours agreement.
    assert fuse(dense, lexical, FusionConfig(method="rrf", rrf_k=0))[0].key == "top"
    assert fuse(dense, lexical, FusionConfig(method="rrf", rrf_k=60))[0].key == "both"


def test_tied_scores_share_a_rank_whatever_their_input_order():
    assert ranks([("a", 2.0), ("b", 1.0), ("c", 2.0), ("d", 0.5)]) == {"a": 1, "c": 1, "b": 3, "d": 4}
    lexical_ab = fuse([], [("a", 1.0), ("b", 1.0)], RRF)
    lexical_ba = fuse([], [("b", 1.0), ("a", 1.0)], RRF)
    assert {f.key: f.score for f in lexical_ab} == {f.key: f.score for f in lexical_ba}
    assert lexical_ab[0].lexical_rank == lexical_ab[1].lexical_rank == 1


def test_equal_fused_scores_are_ordered_by_best_rank_then_dense_first():
    fused = fuse([("d", 0.9), ("shared", 0.1)], [("l", 7.0), ("shared", 1.0)], RRF)
    assert [f.key for f in fused] == ["shared", "d", "l"]  # 2/62 > 1/61; d and l tie: the dense one first
    assert fused[1].score == fused[2].score == pytest.approx(1 / 61)
    # linear: a tie broken by the better rank (b is 1st on the lexical side, a 2nd on the dense side)
    tied = fuse(
        [("x", 1.0), ("a", 0.5), ("y", 0.0)],
        [("b", 2.0), ("z", 0.0)],
        FusionConfig(method="linear", alpha=0.5),
    )
    assert [f.key for f in tied][:3] == ["x", "b", "a"] and tied[1].score == tied[0].score


def test_linear_normalises_each_side_and_weights_by_alpha():
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    lexical = [("c", 30.0), ("b", 20.0), ("d", 10.0)]  # another scale entirely
    assert min_max(lexical) == {"c": 1.0, "b": 0.5, "d": 0.0}
    fused = {f.key: f.score for f in fuse(dense, lexical, FusionConfig(method="linear", alpha=0.25))}
    assert fused == pytest.approx({"a": 0.25, "b": 0.25 * 0.5 + 0.75 * 0.5, "c": 0.75, "d": 0.0})
    only_dense = fuse(dense, lexical, FusionConfig(method="linear", alpha=1.0))
    assert [f.key for f in only_dense][:3] == ["a", "b", "c"]
    only_lexical = fuse(dense, lexical, FusionConfig(method="linear", alpha=0.0))
    assert [f.key for f in only_lexical][:2] == ["c", "b"]


def test_linear_with_equal_scores_on_a_side_and_an_empty_side():
    assert min_max([("a", 3.0), ("b", 3.0)]) == {"a": 1.0, "b": 1.0}
    fused = fuse([("a", 0.4), ("b", 0.2)], [], FusionConfig(method="linear", alpha=0.5))
    assert [(f.key, f.score, f.lexical_rank) for f in fused] == [("a", 0.5, None), ("b", 0.0, None)]
    assert fuse([], [], RRF) == []


def test_only_the_candidates_of_each_side_take_part():
    dense = [(f"d{i}", 1.0 - i / 10) for i in range(5)]
    lexical = [(f"l{i}", 10.0 - i) for i in range(5)]
    fused = fuse(dense, lexical, FusionConfig(method="rrf", candidates=2))
    assert {f.key for f in fused} == {"d0", "d1", "l0", "l1"}


@pytest.mark.parametrize("bad", [{"method": "max"}, {"alpha": 1.5}, {"rrf_k": -1}, {"candidates": 0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad)) if "method" not in bad else "fusion"):
        FusionConfig(**bad)


def test_runs_fuse_per_query_with_the_same_function():
    dense = {"q1": {"a": 0.9, "b": 0.1}, "q2": {"x": 0.3}}
    lexical = {"q1": {"b": 9.0}, "q3": {"y": 1.0}}
    fused = fuse_runs(dense, lexical, RRF)
    assert fused["q1"] == {
        f.key: f.score for f in fuse(list(dense["q1"].items()), list(lexical["q1"].items()), RRF)
    }
    assert set(fused) == {"q1", "q2", "q3"} and list(fused["q1"]) == ["b", "a"]


def test_hybrid_spec_fuses_bm25_with_the_encoder(shared_data):
    from embedder.datasets import load_beir, subset
    from embedder.evaluation.retrieval import evaluate_encoder

    data = subset(load_beir(shared_data / "scifact"), max_queries=20, max_docs=200)
    hybrid = load_model("hybrid:hash")
    assert isinstance(hybrid, HybridRetriever) and hybrid.name == "hybrid:hash:256"
    dense_run, lexical_run = hybrid.runs(data, data.default_instruction())
    assert hybrid.search(data, data.default_instruction()) == fuse_runs(dense_run, lexical_run, hybrid.fusion)
    scores = {
        name: evaluate_encoder(model, data)["ndcg_at_10"]
        for name, model in (("hybrid", hybrid), ("bm25", load_model("bm25")))
    }
    assert 0 < scores["hybrid"] <= 1 and scores["bm25"] > 0


def test_fusion_for_takes_the_encoders_dense_weight_unless_told():
    from types import SimpleNamespace

    from embedder.fusion import fusion_for

    assert fusion_for(SimpleNamespace()) == FusionConfig()
    weak = SimpleNamespace(fusion_alpha=0.2)
    assert fusion_for(weak).alpha == 0.2 and fusion_for(weak).method == "linear"
    assert fusion_for(weak, alpha=0.7, candidates=50) == FusionConfig(alpha=0.7, candidates=50)
    assert fusion_for(weak, alpha=None, method="rrf").alpha == 0.2
    with pytest.raises(ValueError, match="alpha"):
        fusion_for(SimpleNamespace(fusion_alpha=1.5))
