"""``e5 serve`` over real HTTP on 127.0.0.1, the ``openai`` backend against it, and retry behaviour."""

import numpy as np
import openai
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from embedder.backends.openai_api import OpenAIEncoder
from embedder.serving.server import Limits, create_app


@pytest.fixture
def served(serve_app, hash_encoder):
    return serve_app(create_app(hash_encoder, model_name="e5-test", limits=Limits(max_inputs=8)))


def test_openai_client_round_trip_equals_local_encoding(served, hash_encoder):
    remote = OpenAIEncoder("e5-test", base_url=f"{served}/v1", batch_size=2)
    docs = ["alpha beta", "gamma delta", "epsilon"]
    np.testing.assert_allclose(remote.encode_documents(docs), hash_encoder.encode_documents(docs), atol=1e-6)
    assert remote.dim == hash_encoder.dim
    assert remote.usage_tokens > 0


def test_instruction_field_selects_the_query_side(serve_app, tiny_llm_dir):
    from embedder.registry import load_encoder

    tiny = load_encoder(str(tiny_llm_dir))
    url = serve_app(create_app(tiny))
    remote = OpenAIEncoder(tiny.name, base_url=f"{url}/v1")
    np.testing.assert_allclose(
        remote.encode_queries(["q"], "Find it"), tiny.encode_queries(["q"], "Find it"), atol=1e-5
    )
    np.testing.assert_allclose(remote.encode_documents(["q"]), tiny.encode_documents(["q"]), atol=1e-5)


def test_models_and_dimensions(served):
    import httpx

    assert httpx.get(f"{served}/v1/models").json()["data"][0]["id"] == "e5-test"
    text = "the quick brown fox jumps over the lazy dog and runs far away into the deep dark forest"
    body = httpx.post(f"{served}/v1/embeddings", json={"input": text, "dimensions": 128}).json()
    vector = np.array(body["data"][0]["embedding"])
    assert vector.shape == (128,) and abs(np.linalg.norm(vector) - 1) < 1e-5
    assert body["usage"]["prompt_tokens"] == len(text.split())


@pytest.mark.parametrize(
    ("payload", "status", "param"),
    [
        ({"input": []}, 400, "input"),
        ({"input": [""]}, 400, "input"),
        ({"input": ["a"] * 9}, 400, "input"),
        ({"input": [1, 2]}, 400, "input"),
        ({"input": "x" * 70_000}, 413, "input"),
        ({"input": "a", "dimensions": 10_000}, 400, "dimensions"),
        ({}, 400, "input"),
    ],
)
def test_bad_requests_get_openai_style_errors(served, payload, status, param):
    import httpx

    response = httpx.post(f"{served}/v1/embeddings", json=payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


class Flaky:
    """An embeddings endpoint that fails a given number of times with a given status, then answers."""

    def __init__(self, failures: int, status: int):
        self.failures, self.status, self.calls = failures, status, 0
        self.app = FastAPI()
        self.app.post("/v1/embeddings")(self.handle)

    async def handle(self):
        self.calls += 1
        if self.calls <= self.failures:
            if self.status == 0:  # hang past the client's timeout
                import asyncio

                await asyncio.sleep(2)
            return JSONResponse(
                {"error": {"message": "busy", "type": "server_error"}},
                status_code=self.status or 500,
                headers={"retry-after-ms": "10"},
            )
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [3.0, 4.0]}],
            "model": "m",
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }


@pytest.mark.parametrize("status", [429, 500, 0])
def test_retries_with_backoff_then_succeeds(serve_app, status):
    flaky = Flaky(failures=2, status=status)
    url = serve_app(flaky.app)
    remote = OpenAIEncoder("m", base_url=f"{url}/v1", max_retries=3, timeout=0.5)
    np.testing.assert_allclose(remote.encode_documents(["x"]), [[0.6, 0.8]])
    assert flaky.calls == 3


def test_gives_up_after_max_retries(serve_app):
    flaky = Flaky(failures=10, status=500)
    remote = OpenAIEncoder("m", base_url=f"{serve_app(flaky.app)}/v1", max_retries=1)
    with pytest.raises(openai.InternalServerError):
        remote.encode_documents(["x"])
    assert flaky.calls == 2


def test_missing_key_and_endpoint_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIEncoder("text-embedding-3-small")
