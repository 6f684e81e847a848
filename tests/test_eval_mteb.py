"""mteb itself, through our wrapper and a BEIR folder on disk, scores exactly like evaluate_encoder."""

from __future__ import annotations

import pytest
from mteb.abstasks.task_metadata import TaskMetadata

from embedder.backends.llm import LLMEncoder
from embedder.config import EmbedderConfig
from embedder.datasets import load_beir, subset
from embedder.evaluation.mteb_wrapper import retrieval_metadata, run_mteb, task_instruction
from embedder.evaluation.retrieval import evaluate_encoder
from embedder.instructions import BEIR, WEB_SEARCH


def test_mteb_scores_equal_evaluate_encoder(shared_data, tiny_llm_dir):
    # a real (random, 2-layer) LLM: queries carry the instruction, documents do not, on both paths
    encoder = LLMEncoder(EmbedderConfig(model=str(tiny_llm_dir), max_length=128), show_progress=False)
    dataset = subset(load_beir(shared_data / "scifact"), max_queries=20, max_docs=120, seed=1)
    scores = run_mteb(encoder, dataset)
    ours = evaluate_encoder(encoder, dataset, cache=False)
    assert ours["ndcg_at_10"] > 0
    for theirs, mine in [
        ("ndcg_at_10", "ndcg_at_10"),
        ("recall_at_100", "recall_at_100"),
        ("mrr_at_10", "mrr_at_10"),
        ("map_at_100", "map"),
    ]:
        assert scores[theirs] == pytest.approx(ours[mine], abs=1e-4), theirs


def metadata(name: str, prompt=None) -> TaskMetadata:
    return retrieval_metadata(name, "test", "d", {"path": "x", "revision": "x"}, prompt)


def test_paper_instructions_for_mteb_task_names():
    assert task_instruction(metadata("SciFact")) == BEIR["scifact"]
    assert task_instruction(metadata("FiQA2018")) == BEIR["fiqa"]
    assert task_instruction(metadata("CQADupstackPhysicsRetrieval")) == BEIR["cqadupstack"]
    assert task_instruction(metadata("Touche2020")) == BEIR["webis-touche2020"]
    assert task_instruction(metadata("DBPedia")) == BEIR["dbpedia-entity"]
    assert task_instruction(metadata("SomeNewTask", prompt={"query": "Find it"})) == "Find it"
    assert task_instruction(metadata("SomeNewTask")) == WEB_SEARCH
