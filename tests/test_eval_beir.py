"""BEIR loading, metrics against hand-computed values, the embedding cache, and BM25."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from embedder.datasets import BeirDataset, load_beir, save_beir, subset
from embedder.evaluation.bm25 import BM25Retriever
from embedder.evaluation.metrics import evaluate_run
from embedder.evaluation.retrieval import DenseRetriever, evaluate_encoder

DOCS = {
    "d1": ("Penguins", "penguins are flightless birds living in antarctica"),
    "d2": ("Volcanoes", "volcanic eruptions release lava ash and sulfur gases"),
    "d3": ("Coffee", "coffee beans are roasted seeds of the coffea plant"),
    "d4": ("Tides", "ocean tides are caused by the gravity of the moon"),
    "q1": ("", "why do penguins not fly"),  # a query that is also a document, as in ArguAna
}
TINY = BeirDataset(
    "tiny",
    "test",
    DOCS,
    {"q1": "why do penguins not fly", "q2": "what causes ocean tides"},
    {"q1": {"d1": 1}, "q2": {"d4": 1}},
)


@pytest.fixture
def tiny_beir(tmp_path) -> Path:
    """The tiny dataset on disk, plus an unjudged query and a qrels row naming an unknown document."""
    folder = save_beir(TINY, tmp_path / "tiny")
    with (folder / "queries.jsonl").open("a") as out:
        out.write(json.dumps({"_id": "q3", "text": "never judged"}) + "\n")
    with (folder / "qrels" / "test.tsv").open("a") as out:
        out.write("q2\td9\t1\n")
    return folder


def test_metrics_match_hand_computed_values():
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 1}}
    run = {
        "q1": {"q1": 0.99, "d2": 0.9, "d1": 0.8, "d3": 0.1},  # q1 itself is ignored: d1 ranks 2nd
        "q2": {"d3": 0.7, "d5": 0.6, "d2": 0.5},
    }
    metrics = evaluate_run(qrels, run)
    ndcg_q1 = 1 / math.log2(3)
    ndcg_q2 = (1 + 2 / math.log2(4)) / (2 + 1 / math.log2(3))  # trec_eval gains are the grades
    assert metrics["ndcg_at_10"] == pytest.approx((ndcg_q1 + ndcg_q2) / 2, abs=1e-5)
    assert metrics["mrr_at_10"] == pytest.approx((1 / 2 + 1) / 2, abs=1e-5)
    assert metrics["map"] == pytest.approx((1 / 2 + (1 + 2 / 3) / 2) / 2, abs=1e-5)
    assert metrics["recall_at_100"] == 1.0


def test_identical_ids_and_unretrieved_queries():
    run = {"q1": {"q1": 0.99, "d1": 0.5}}
    assert evaluate_run({"q1": {"q1": 1}}, run)["ndcg_at_10"] == 0.0
    assert evaluate_run({"q1": {"q1": 1}}, run, ignore_identical_ids=False)["ndcg_at_10"] == 1.0
    # q2 retrieved nothing: it counts as zero, not as absent
    assert evaluate_run({"q1": {"d1": 1}, "q2": {"d1": 1}}, run)["mrr_at_10"] == 0.5


def test_mrr_only_counts_the_top_ten():
    run = {"q1": {f"x{i}": 1 - i / 100 for i in range(10)} | {"d1": 0.5}}
    assert evaluate_run({"q1": {"d1": 1}}, run)["mrr_at_10"] == 0.0


def test_load_beir_validates_and_counts_dropped_qrels(tiny_beir, caplog):
    data = load_beir(tiny_beir)
    assert (data.name, data.split, data.dropped_qrels, data.is_subset) == ("tiny", "test", 1, False)
    assert sorted(data.queries) == ["q1", "q2"]  # q3 has no judgements in this split
    assert data.qrels == TINY.qrels and data.corpus == TINY.corpus
    assert "1 qrels rows" in caplog.text
    assert data.document_texts()[0] == "Penguins penguins are flightless birds living in antarctica"


def test_load_beir_errors_name_the_problem(tiny_beir, tmp_path):
    with pytest.raises(FileNotFoundError, match="splits found: test"):
        load_beir(tiny_beir, split="dev")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_beir(tmp_path / "nowhere")
    (tiny_beir / "queries.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="queries.jsonl is missing"):
        load_beir(tiny_beir)
    broken = save_beir(TINY, tmp_path / "broken")
    with (broken / "corpus.jsonl").open("a") as out:
        out.write("{not json\n")
    with pytest.raises(ValueError, match=r"corpus.jsonl:6: not valid JSON"):
        load_beir(broken)


def test_subset_keeps_relevant_docs_and_is_seeded(shared_data):
    full = load_beir(shared_data / "scifact")
    part = subset(full, max_queries=20, max_docs=200, seed=3)
    assert len(part.queries) == 20 and len(part.corpus) == 200 and part.is_subset
    assert all(doc in part.corpus for rels in part.qrels.values() for doc in rels)
    assert part == subset(full, max_queries=20, max_docs=200, seed=3)
    assert part.queries != subset(full, max_queries=20, max_docs=200, seed=4).queries
    assert "subset 20q/200d seed 3" in part.label
    chosen = subset(full, max_docs=50, query_ids=["1", "3"])
    assert list(chosen.queries) == ["1", "3"] and len(chosen.corpus) == 50
    with pytest.raises(ValueError, match="not judged"):
        subset(full, query_ids=["no-such-query"])


def test_hash_encoder_end_to_end_ignores_the_query_document(tiny_beir, hash_encoder):
    metrics = evaluate_encoder(hash_encoder, load_beir(tiny_beir))
    assert metrics["ndcg_at_10"] == 1.0 and metrics["mrr_at_10"] == 1.0


class CountingEncoder:
    """The real hashing encoder, counting how many documents it was asked to encode."""

    def __init__(self, inner, name: str):
        self.inner, self.name, self.dim, self.documents = inner, name, inner.dim, 0

    def encode_queries(self, texts, instruction):
        return self.inner.encode_queries(texts, instruction)

    def encode_documents(self, texts):
        self.documents += len(texts)
        return self.inner.encode_documents(texts)


def test_document_cache_hit_and_miss(tiny_beir, hash_encoder, e5_home):
    data = load_beir(tiny_beir)
    encoder = CountingEncoder(hash_encoder, name="counting-hash")
    first = DenseRetriever(encoder)
    run = first.search(data, "instruction")
    assert not first.cache_hit and encoder.documents == len(data.corpus)
    assert list((e5_home / "cache" / "embeddings").rglob(f"{data.fingerprint}-*.npy"))
    second = DenseRetriever(encoder)
    assert second.search(data, "instruction") == run
    assert second.cache_hit and encoder.documents == len(data.corpus)
    smaller = subset(data, max_docs=2)  # another corpus: a miss
    third = DenseRetriever(encoder)
    third.search(smaller, "instruction")
    assert not third.cache_hit and encoder.documents == len(data.corpus) + len(smaller.corpus)
    DenseRetriever(encoder, cache=False).search(data, "instruction")
    assert encoder.documents == 2 * len(data.corpus) + len(smaller.corpus)


def test_bm25_ranks_the_exact_match_first(tiny_beir):
    run = BM25Retriever().search(load_beir(tiny_beir), "")
    assert max(run["q1"], key=run["q1"].get) == "q1"  # the document with the query's exact text
    assert max(run["q2"], key=run["q2"].get) == "d4"
