"""``e5 compare-query`` / ``compare_query``: one query through several retrievers over an exact-size corpus."""

from __future__ import annotations

import json

import pytest
from apptest import write_tiny_beir
from typer.testing import CliRunner

from embedder.datasets import load_beir, sized_subset
from embedder.evaluation.bm25 import BM25Retriever
from embedder.evaluation.query import compare_query, no_hit_reason, pending_documents
from ui.cli import app


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_beir(tmp_path / "tinymed")


def test_the_subset_has_exactly_the_documents_asked(shared_data):
    scifact = load_beir(shared_data / "scifact")
    for size in (10, 200, 777):
        cut = sized_subset(scifact, size, max_queries=50, seed=0)
        assert len(cut.corpus) == size and cut.queries
        assert all(doc in cut.corpus for docs in cut.qrels.values() for doc in docs)
    with pytest.raises(ValueError, match="max_docs must be positive"):
        sized_subset(scifact, 0)


def test_runs_say_what_they_encoded_and_why_they_are_empty(tiny, hash_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("E5_HOME", str(tmp_path / "home"))  # an empty embedding cache
    dataset = sized_subset(load_beir(tiny), 200)
    assert pending_documents([hash_encoder, BM25Retriever()], dataset) == {hash_encoder.name: 6, "bm25": None}
    dense, lexical = compare_query(
        dataset, [hash_encoder, BM25Retriever()], "xylophone quartet", "Find it", k=3
    )
    assert (dense.encoded_docs, len(dense.ids)) == (6, 3) and dense.ids == sorted(
        dense.scores, key=dense.scores.get, reverse=True
    )
    assert lexical.lexical and lexical.ids == [] and no_hit_reason(lexical).startswith("no lexical match")
    again = compare_query(dataset, [hash_encoder], "aspirin heart attacks", "Find it", k=1, query_id="q1")[0]
    assert again.encoded_docs == 0 and again.ids == ["d1"]  # cached document vectors
    assert pending_documents([hash_encoder], dataset) == {hash_encoder.name: 0}
    with pytest.raises(ValueError, match="the query is empty"):
        compare_query(dataset, [hash_encoder], " ", "Find it")


def test_the_cli_command(tiny):
    result = CliRunner().invoke(
        app,
        ["compare-query", str(tiny), "smoking lung cancer", "-m", "hash", "-m", "bm25", "-k", "2", "--json"],
    )
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout[result.stdout.index("[") :])
    assert [run["model"] for run in runs] == ["hash:256", "bm25"] and all(
        run["ids"][0] == "d5" for run in runs
    )
    table = CliRunner().invoke(
        app, ["compare-query", str(tiny), "smoking lung cancer", "-m", "hash", "-m", "bm25", "-k", "2"]
    )
    assert table.exit_code == 0 and "agreement (share of top-k in common): hash:256 / bm25 " in table.output
    bad = CliRunner().invoke(app, ["compare-query", str(tiny / "missing"), "q"])
    assert bad.exit_code == 2 and "does not exist" in bad.output
