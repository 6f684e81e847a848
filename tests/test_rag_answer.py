"""ask(): retrieval, then an OpenAI-compatible chat endpoint over real HTTP (the project's own server on
a tiny random LLM); without an endpoint, or when it fails, the passages still come back with a reason."""

import socket

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from embedder.serving.chat import add_chat_routes
from embedder.serving.server import create_app
from rag.answer import ChatConfig, ask, build_messages
from rag.collection import open_collection
from rag.config import IndexConfig, Workspace
from rag.indexer import index_folder


@pytest.fixture
def collection(tmp_path, hash_encoder):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "tides.md").write_text("# Tides\n\nThe moon's gravity pulls the oceans and causes tides.")
    (folder / "bees.md").write_text("# Bees\n\nHoneybees dance to tell the hive where flowers are.")
    workspace = Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
    index_folder(
        folder,
        hash_encoder,
        workspace=workspace,
        config=IndexConfig(chunk_tokens=32, overlap=4),
        progress=False,
    )
    return open_collection("kb", hash_encoder, workspace=workspace)


def test_prompt_numbers_the_passages(collection):
    hits = ask(collection, "what causes tides", k=2, chat=ChatConfig()).hits
    system, user = build_messages("what causes tides", hits)
    assert "cite" in system["content"].lower() and "[1]" in system["content"]
    assert user["content"].index("[1] Tides (tides.md)") < user["content"].index("[2] Bees (bees.md)")
    assert user["content"].endswith("Question: what causes tides")


def test_no_endpoint_configured_still_returns_passages(collection, monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    answer = ask(collection, "what causes tides", k=1)
    assert answer.text is None and "no LLM endpoint configured" in answer.note
    assert [hit.path for hit in answer.hits] == ["tides.md"]


def test_unreachable_endpoint_is_reported(collection):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    answer = ask(
        collection,
        "what causes tides",
        k=1,
        chat=ChatConfig(base_url=f"http://127.0.0.1:{port}/v1", timeout=5),
    )
    assert answer.text is None and "failed (APIConnectionError" in answer.note and answer.hits


def test_answer_from_a_real_chat_endpoint(collection, serve_app, tiny_llm_dir, hash_encoder):
    app = create_app(hash_encoder, extra_routes=lambda api: add_chat_routes(api, str(tiny_llm_dir)))
    url = serve_app(app) + "/v1"
    answer = ask(
        collection,
        "how do bees communicate",
        k=2,
        chat=ChatConfig(base_url=url, model=tiny_llm_dir.name, max_tokens=8),
    )
    assert answer.note is None and isinstance(answer.text, str)
    assert answer.hits[0].path == "bees.md"


MALFORMED = {
    "html": (
        HTMLResponse("<html><body>Gateway</body></html>"),
        "the reply is text, not a JSON chat completion",
    ),
    "no-choices": (JSONResponse({"id": "x", "object": "chat.completion"}), "the reply has no choices"),
    "empty-choices": (JSONResponse({"id": "x", "choices": []}), "the reply has no choices"),
    "json-list": (JSONResponse([1, 2, 3]), "the reply has no choices"),
    "no-message": (JSONResponse({"choices": [{"index": 0}]}), "the reply's first choice has no message"),
    "number-content": (JSONResponse({"choices": [{"message": {"content": 7}}]}), "content is int, not text"),
    "broken-json": (Response(b'{"choices": [', media_type="application/json"), "JSONDecodeError"),
}


@pytest.fixture(scope="module")
def malformed_endpoint():
    """A chat endpoint answering 200 with a body that is not a chat completion, one kind per URL prefix."""
    app = FastAPI()

    @app.post("/{kind}/chat/completions")
    def reply(kind: str):
        return MALFORMED[kind][0]

    return app


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_replies_are_endpoint_failures_and_the_passages_still_come(
    collection, serve_app, malformed_endpoint, kind
):
    url = f"{serve_app(malformed_endpoint)}/{kind}"
    answer = ask(collection, "what causes tides", k=1, chat=ChatConfig(base_url=url, timeout=10))
    assert answer.text is None and [hit.path for hit in answer.hits] == ["tides.md"]
    assert answer.note.startswith(f"the LLM endpoint at {url} failed") and MALFORMED[kind][1] in answer.note
