"""Compare page: one query through several encoders, agreement marked and tabulated."""

from __future__ import annotations

import pytest
from apptest import app_test, write_tiny_beir

from embedder.evaluation.agreement import found_by, overlap_table, top_ids


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    write_tiny_beir(tmp_path / "tinymed")
    monkeypatch.setenv("E5_UI_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("E5_UI_MODEL", "hash")
    monkeypatch.setenv("E5_HOME", str(tmp_path / "home"))  # an empty embedding cache: the first run encodes
    return tmp_path


def test_overlap_and_owners_of_top_results():
    rankings = {"a": ["d1", "d2", "d3"], "b": ["d1", "d4", "d2"], "c": ["d9"]}
    table = overlap_table(rankings)
    assert table["a"]["b"] == pytest.approx(2 / 3) and table["b"]["a"] == table["a"]["b"]
    assert table["a"]["c"] == 0.0 and table["c"]["c"] == 1.0
    assert found_by(rankings)["d1"] == ["a", "b"] and found_by(rankings)["d9"] == ["c"]
    assert top_ids({"x": 0.1, "y": 0.9, "z": 0.5}, 2) == ["y", "z"]


def plan(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Corpus:"))


def compare_button(at):
    return next(button for button in at.button if button.label == "Compare")


def test_one_query_side_by_side_marks_shared_and_relevant_results(data_root):
    at = app_test("compare")
    assert not at.exception
    assert at.selectbox[1].value == "q1"  # the dataset's own queries come first
    assert at.multiselect[0].value == ["minilm", "bm25"]  # the quickest retrievers by default
    at.multiselect[0].set_value(["hash", "bm25"]).run()
    assert "Corpus: 6 documents. hash:256: encodes 6 documents, then the query" in plan(at)
    assert "bm25: lexical index" in plan(at)
    at.slider[0].set_value(3)
    compare_button(at).click().run()
    assert not at.exception and not at.error
    assert [h.value for h in at.subheader][:2] == ["hash:256", "bm25"]
    captions = [c.value for c in at.caption]
    assert any("encoded 6 documents and the query" in c for c in captions)
    hits = [m.value for m in at.markdown if m.value.startswith("**1.**")]
    assert len(hits) == 2
    assert all("Aspirin lowers the risk" in hit and "✔ all" in hit and "★ relevant" in hit for hit in hits)
    agreement = at.dataframe[0].value
    assert list(agreement.index) == ["hash:256", "bm25"] and agreement.loc["bm25", "bm25"] == 1.0
    compare_button(at).click().run()  # the same corpus again
    assert any("cached document vectors, encoded the query only" in c.value for c in at.caption)
    assert "hash:256: cached vectors" in plan(at)


def test_a_query_without_a_lexical_match_says_so(data_root):
    at = app_test("compare")
    at.multiselect[0].set_value(["hash", "bm25"]).run()
    at.selectbox[1].select("__own__").run()
    at.text_input(key="compare_query").input("xylophone quartet").run()
    compare_button(at).click().run()
    assert not at.exception and not at.error
    assert "No lexical match: no word of the query" in at.info[0].value


def test_an_empty_own_query_is_a_readable_error(data_root):
    at = app_test("compare")
    at.selectbox[1].select("__own__").run()
    compare_button(at).click().run()
    assert not at.exception
    assert "the query is empty" in at.error[0].value
