"""Ask page: a clear notice without an LLM; with one, the answer comes from a real local chat endpoint
(``e5 serve``'s chat route on a tiny random LLM) called with the key typed for this session only."""

from __future__ import annotations

import json

import pytest
from apptest import app_test, build_demo

SECRET = "sk-session-only-7d2e91"
CHAT_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "E5_CHAT_BASE_URL", "E5_CHAT_MODEL", "E5_CHAT_API_KEY")


@pytest.fixture(autouse=True)
def demo(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("E5_UI_MODEL", "hash")
    for name in CHAT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    build_demo(tmp_path_factory.mktemp("demo_docs"))


@pytest.fixture
def chat_server(serve_app, tiny_llm_dir, hash_encoder):
    """A real OpenAI-compatible chat endpoint; records what each request carried."""
    from embedder.serving.chat import add_chat_routes
    from embedder.serving.server import create_app

    app = create_app(hash_encoder, extra_routes=lambda api: add_chat_routes(api, str(tiny_llm_dir)))
    seen: list[dict] = []

    @app.middleware("http")
    async def record(request, call_next):
        seen.append({"auth": request.headers.get("authorization"), "body": (await request.body()).decode()})
        return await call_next(request)

    return serve_app(app) + "/v1", seen


def ask(at, question: str):
    at.text_area[0].input(question)
    at.button[0].click().run()
    return at


def files_containing(root, needle: bytes) -> list:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_without_an_llm_the_notice_is_clear_and_passages_are_still_shown():
    at = ask(app_test("ask"), "where do the vectors live?")
    assert not at.exception and not at.error
    assert len(at.warning) == 1 and "No LLM is configured" in at.warning[0].value
    passages = [m.value for m in at.markdown if m.value.startswith("**[")]
    assert passages[0].startswith("**[1] Vector store**")
    assert not [h for h in at.subheader if h.value == "Answer"]


def test_the_answer_comes_from_the_endpoint_with_the_typed_key_never_stored(
    chat_server, monkeypatch, e5_home, tiny_llm_dir
):
    url, seen = chat_server
    monkeypatch.setenv("E5_CHAT_BASE_URL", url)
    monkeypatch.setenv("E5_CHAT_MODEL", tiny_llm_dir.name)  # the server refuses models it does not serve
    at = app_test("settings")
    at.text_input(key="chat_key").input(SECRET)
    at.button[0].click().run()
    at.switch_page("views/ask.py").run()
    assert f"Answers by `{tiny_llm_dir.name}`" in at.caption[0].value
    ask(at, "where do the vectors live?")
    assert not at.exception and not at.error and not at.warning
    assert [h.value for h in at.subheader] == ["Answer", "Passages"]
    answer = at.markdown[0].value  # the model's text comes first, then the numbered passages
    assert answer.strip() and not answer.startswith("**[")
    request = json.loads(seen[-1]["body"])
    assert seen[-1]["auth"] == f"Bearer {SECRET}"
    assert "[1] Vector store (docs/store.md)" in request["messages"][1]["content"]
    assert files_containing(e5_home, SECRET.encode()) == []
