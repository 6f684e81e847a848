"""Search page: the demo collection (built with the hash encoder through the rag library) answers queries."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from apptest import app_test, build_demo

from rag.search import Hit
from ui.hits import balanced_fences, best_window, escape_markdown, hit_kind, retriever_note


@pytest.fixture(autouse=True)
def demo(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("E5_UI_MODEL", "hash")
    build_demo(tmp_path_factory.mktemp("demo_docs"))


def test_a_query_returns_ranked_hits_from_the_demo_collection():
    at = app_test("search")
    assert not at.exception
    assert at.selectbox[0].value == "demo"
    at.text_input[0].input("where do the vectors live")
    at.button[0].click().run()
    assert not at.exception and not at.error
    headers = [m.value for m in at.markdown if m.value.startswith("**")]
    assert headers[0].startswith("**1. Vector store**") and "`docs/store.md`" in headers[0]
    assert (
        "dense #1 · lexical #1 · fused score" in headers[0]
    )  # the demo collection searches hybrid by default
    bodies = [m.value for m in at.markdown if not m.value.startswith("**")]
    assert bodies[0].startswith("# Vector store\n\nThe vectors live in a FAISS index")  # Markdown, rendered


def test_a_custom_instruction_and_a_path_filter_are_applied():
    at = app_test("search")
    at.selectbox[1].select("custom…").run()
    at.text_input(key="search_custom").input("Given a question, find the documentation page that answers it")
    at.text_input[1].input("vectors")
    at.text_input[2].input("README*")
    at.button[0].click().run()
    assert not at.exception and not at.error
    headers = [m.value for m in at.markdown if m.value.startswith("**")]
    assert headers and all("`README.md`" in h for h in headers)


def test_a_filter_that_matches_nothing_says_so():
    at = app_test("search")
    at.text_input[0].input("vectors")
    at.text_input[1].input("nothing/*")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "no document path matches 'nothing/\\*'" in at.info[0].value


def test_an_empty_query_is_a_readable_error():
    at = app_test("search")
    at.button[0].click().run()
    assert not at.exception
    assert "the query is empty" in at.error[0].value


def test_hit_kinds_and_escaping():
    assert hit_kind("docs/a.md") == ("markdown", None) and hit_kind("pkg/__init__.py") == ("code", "python")
    assert hit_kind("notes.txt") == ("text", None) and hit_kind("Makefile") == ("text", None)
    assert escape_markdown("__init__.py *x*") == r"\_\_init\_\_\.py \*x\*"
    assert balanced_fences("text\n```python\nx = 1") == "text\n```python\nx = 1\n```"


def test_the_snippet_is_the_part_around_the_best_matching_line():
    text = (
        "".join(f"line {i} about nothing\n" for i in range(40))
        + "the needle sits here\n"
        + "tail line\n" * 40
    )
    start, end = best_window(text, "where is the needle", width=120)
    snippet = text[start:end]
    assert "the needle sits here" in snippet and len(snippet) <= 120 and snippet.endswith("\n")
    assert snippet.index("needle") > 30  # lines before it are kept too, not only after
    long_line = "x " * 300 + "needle here " + "y " * 300
    start, end = best_window(long_line, "needle", width=100)
    assert "needle here" in long_line[start:end] and end - start <= 100 and long_line[start] != " "
    assert best_window("short", "q") == (0, 5)


def test_hits_name_the_retriever_and_its_rank_when_hybrid_search_provides_them():
    hit = Hit(0.8123, "a.md", "A", "text", 0, 0, 4, 1)
    assert retriever_note(hit) == "dense · cosine similarity 0.812"

    class HybridHit(NamedTuple):
        score: float
        dense_rank: int | None
        lexical_rank: int | None

    assert retriever_note(HybridHit(0.03, 2, None)) == "dense #2 · cosine similarity 0.030"
    assert retriever_note(HybridHit(0.03, 1, 4)) == "dense #1 · lexical #4 · fused score 0.030"
    assert retriever_note(HybridHit(0.03, None, 3)) == "lexical #3 · score 0.030"
