"""Benchmarks page: a BEIR run on a tiny folder shows a results table and lands in the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ui.testing import app_test

DOCS = {"d1": "Aspirin lowers the risk of heart attacks", "d2": "Vitamin C does not cure the common cold",
        "d3": "Regular exercise improves sleep quality", "d4": "Coffee consumption and liver health",
        "d5": "Smoking causes lung cancer", "d6": "Sunlight exposure raises vitamin D levels"}
QUERIES = {"q1": "does aspirin prevent heart attacks", "q2": "smoking and lung cancer",
           "q3": "vitamin D from sunlight"}
QRELS = {"q1": "d1", "q2": "d5", "q3": "d6"}


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n"
                                                 for i, t in DOCS.items()))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                               + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items()))
    return folder


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    write_beir(tmp_path / "tinymed")
    (tmp_path / "not-beir").mkdir()
    monkeypatch.setenv("E5_UI_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("E5_UI_MODEL", "hash")
    return tmp_path


def test_a_beir_run_shows_a_table_and_is_stored(data_root):
    at = app_test("benchmarks")
    assert not at.exception
    assert at.multiselect[0].options == ["tinymed"]
    assert at.multiselect[1].value == ["hash", "bm25"]
    at.button[0].click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert sorted(table["model"]) == ["bm25", "hash:256"]
    assert table["dataset"].str.startswith("tinymed [subset").all()
    bm25 = table.set_index("model").loc["bm25"]
    assert bm25["nDCG@10"] == pytest.approx(1.0)  # every query names its one relevant document's words
    history = at.dataframe[1].value
    assert {"bm25", "hash:256"} <= set(history["model"])


def test_an_empty_data_root_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("E5_UI_DATA_ROOT", str(tmp_path / "nothing-here"))
    at = app_test("benchmarks")
    assert not at.exception
    assert "No BEIR-format folders" in at.warning[0].value and "nothing-here" in at.warning[0].value


def test_running_with_no_model_is_a_readable_error(data_root):
    at = app_test("benchmarks")
    at.multiselect[1].set_value([])
    at.button[0].click().run()
    assert not at.exception
    assert "pick at least one dataset and one model" in at.error[0].value
