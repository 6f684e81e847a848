"""run_beir end to end: several models, the SQL results store, exports, the CLI, and an OpenAI-compatible
endpoint (``e5 serve`` on 127.0.0.1) as a model."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console
from test_eval_beir import TINY
from typer.testing import CliRunner

from embedder.datasets import save_beir
from embedder.evaluation.compare import compare, comparison_table
from embedder.evaluation.report import bar_chart, export_results
from embedder.evaluation.results import ResultStore
from embedder.evaluation.retrieval import evaluate_encoder
from embedder.evaluation.runner import estimated_cost, run_beir
from embedder.registry import load_encoder
from embedder.serving.server import create_app
from ui.cli import app


@pytest.fixture
def tiny_folder(tmp_path):
    return save_beir(TINY, tmp_path / "tiny")


@pytest.fixture
def store(tmp_path):
    return ResultStore(f"sqlite:///{tmp_path / 'results.db'}")


def test_run_beir_stores_labelled_results(tiny_folder, hash_encoder, store):
    seen = []
    results = run_beir(
        [tiny_folder],
        ["bm25", hash_encoder],
        max_queries=1,
        seed=0,
        store=store,
        progress=lambda stage, done, total: seen.append(stage),
    )
    assert [(r.model, r.dataset, r.subset) for r in results] == [
        ("bm25", "tiny", "1q/5d seed 0"),
        ("hash:256", "tiny", "1q/5d seed 0"),
    ]
    assert "hash:256 on tiny [subset 1q/5d seed 0]: queries" in seen  # documents may come from the cache
    assert (
        results[1].config["instruction"]
        == "Given a web search query, retrieve relevant passages that answer "
        "the query"
    )  # "tiny" is no paper dataset: the fallback
    stored = store.query(kind="beir")
    assert {(r.model, r.metrics["ndcg_at_10"]) for r in stored} == {
        (r.model, r.metrics["ndcg_at_10"]) for r in results
    }
    assert store.query(model="bm25")[0].config == results[0].config
    assert all(r.created.tzinfo is not None for r in stored)


def test_exports_round_trip(tiny_folder, hash_encoder, store, tmp_path):
    results = run_beir([tiny_folder], [hash_encoder], store=store)
    rows = list(csv.DictReader(io.StringIO(export_results(results, "csv"))))
    assert rows[0]["model"] == "hash:256" and float(rows[0]["ndcg_at_10"]) == results[0].metrics["ndcg_at_10"]
    assert (
        json.loads(export_results(results, "json"))[0]["recall_at_100"] == results[0].metrics["recall_at_100"]
    )
    markdown = export_results(results, "markdown").splitlines()
    assert markdown[0].startswith("| model | dataset |") and len(markdown) == 3
    with pytest.raises(ValueError, match="csv, json, markdown"):
        export_results(results, "xlsx")
    assert bar_chart(results, tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_json_and_errors(tiny_folder):
    runner = CliRunner()
    out = runner.invoke(app, ["bench", "beir", str(tiny_folder), "-m", "hash", "-m", "bm25", "--json"])
    assert out.exit_code == 0, out.output
    records = json.loads(out.stdout)
    assert [r["model"] for r in records] == ["hash:256", "bm25"]
    assert all({"model", "dataset", "ndcg_at_10", "recall_at_100", "mrr_at_10"} <= r.keys() for r in records)
    missing = runner.invoke(app, ["bench", "beir", str(tiny_folder), "--split", "dev", "-m", "hash"])
    assert missing.exit_code == 2 and "no qrels/dev.tsv" in missing.output
    stored = runner.invoke(app, ["bench", "results", "--format", "csv", "--model", "bm25"])
    assert stored.exit_code == 0 and stored.stdout.startswith("model,dataset,split")


def test_openai_compatible_endpoint_as_a_model(serve_app, hash_encoder, tiny_folder, store):
    base_url = serve_app(create_app(hash_encoder, model_name="hash")) + "/v1"
    remote = load_encoder("openai:hash", base_url=base_url)
    [result] = run_beir([tiny_folder], [remote], store=store)
    local = evaluate_encoder(hash_encoder, TINY, cache=False)
    assert result.metrics == local
    assert result.model == "openai:hash" and result.tokens == remote.usage_tokens > 0
    assert result.cost_usd is None  # not an OpenAI-priced model


def test_estimated_cost_uses_openai_prices():
    assert estimated_cost("openai:text-embedding-3-small", 1_000_000) == pytest.approx(0.02)
    assert estimated_cost("openai:text-embedding-3-large@256", 500_000) == pytest.approx(0.065)
    assert estimated_cost("minilm", 1_000_000) is None


def test_compare_table_and_chart_with_an_api_model(serve_app, hash_encoder, tiny_folder, store, tmp_path):
    remote = load_encoder(
        "openai:hash", base_url=serve_app(create_app(hash_encoder, model_name="hash")) + "/v1"
    )
    comparison = compare([tiny_folder], ["bm25", remote], chart=tmp_path / "bars.png", store=store)
    assert comparison.chart.read_bytes()[:4] == b"\x89PNG"
    console = Console(width=200, record=True)
    console.print(comparison_table(comparison))
    lines = console.export_text().splitlines()
    remote_row = next(line for line in lines if "openai:hash" in line)
    assert f"{comparison.results[1].metrics['ndcg_at_10']:.4f}" in remote_row
    assert f"{remote.usage_tokens:,}" in remote_row
    with pytest.raises(ValueError, match="metric must be one of"):
        compare([tiny_folder], ["bm25"], metric="accuracy", store=store)
