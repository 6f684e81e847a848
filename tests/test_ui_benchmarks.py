"""Benchmarks page: a BEIR run on a tiny folder shows a results table and lands in the history."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest import app_test, write_tiny_beir


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
    assert bm25["nDCG@10 ×100"] == pytest.approx(100.0)  # every query names its one relevant document's words
    assert len(at.get("vega_lite_chart")) == 1  # the bar chart
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


def test_passkey_shows_accuracy_per_length_with_a_line_chart(data_root):
    at = app_test("benchmarks")
    at.number_input[3].set_value(20)  # candidates per length
    at.button[1].click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["length"]) == [256, 512] and set(table["model"]) == {"hash:256"}
    accuracy = table["accuracy ×100"]
    assert accuracy.between(0, 100).all() and (accuracy > 50).all()  # names are lexical cues
    assert table["mean tokens"].tolist() == pytest.approx([256, 512], rel=0.05)
    assert len(at.get("vega_lite_chart")) == 1
    passkey_history = at.dataframe[-1].value
    assert {256, 512} <= set(passkey_history["length"])


def test_the_passkey_rope_base_knob_reaches_the_encoder(data_root):
    at = app_test("benchmarks")
    rope = next(n for n in at.number_input if n.label == "RoPE base (LLMs)")
    rope.set_value(100_000.0)
    at.button[1].click().run()
    assert not at.exception
    assert "hash:256 is no local LLM; rope_theta/sliding_window do not apply" in at.error[0].value
