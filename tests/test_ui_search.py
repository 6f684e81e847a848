"""Search page: the demo collection (built with the hash encoder through the rag library) answers queries."""

from __future__ import annotations

import pytest

from rag.search import Hit
from ui.catalog import hit_in_context
from ui.testing import app_test, build_demo


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
    contexts = [m.value for m in at.markdown if "<mark>" in m.value]
    assert len(contexts) == len(headers) >= 2
    assert "<mark># Vector store" in contexts[0]


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


def test_an_empty_query_is_a_readable_error():
    at = app_test("search")
    at.button[0].click().run()
    assert not at.exception
    assert "the query is empty" in at.error[0].value


def test_the_chunk_is_marked_inside_its_document_and_escaped():
    text = "intro " * 50 + "<b>the chunk</b>" + " outro" * 50
    start = text.index("<b>")
    hit = Hit(0.5, "a.md", "A", "<b>the chunk</b>", 0, start, start + 16, 1)
    shown = hit_in_context(hit, text, width=30)
    assert "<mark>&lt;b&gt;the chunk&lt;/b&gt;</mark>" in shown
    assert shown.startswith("…") and shown.endswith("…") and shown.count("intro") == 5
    assert hit_in_context(hit, "the file changed since") == "<mark>&lt;b&gt;the chunk&lt;/b&gt;</mark>"
