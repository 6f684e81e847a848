"""Benchmarks page: a BEIR run on a tiny folder shows a results table and lands in the history."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui.testing import app_test, write_tiny_beir


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    write_tiny_beir(tmp_path / "tinymed")
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
