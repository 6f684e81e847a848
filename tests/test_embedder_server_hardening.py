"""Regression tests of issue 15 for ``e5 serve``, over real HTTP on 127.0.0.1: the API key, the body limit
(checked before the body is read), unknown models, OpenAI-shaped 404/405, token-id inputs, lone
surrogates, malformed JSON, and the refusal to listen beyond loopback without a key."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest

from embedder.backends.openai_api import OpenAIEncoder
from embedder.serving.chat import add_chat_routes
from embedder.serving.server import Limits, check_exposure, create_app

KEY = "s3cret-key"


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"] == "invalid_request_error"
    return error


@pytest.fixture
def guarded(serve_app, hash_encoder):
    return serve_app(create_app(hash_encoder, model_name="e5-test", api_key=KEY))


def test_api_key_is_required_on_every_route(guarded, hash_encoder):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        for response in (
            httpx.get(f"{guarded}/v1/models", headers=headers),
            httpx.post(f"{guarded}/v1/embeddings", json={"input": "a"}, headers=headers),
        ):
            assert error_of(response, 401)["code"] == "invalid_api_key"
    ok = httpx.get(f"{guarded}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "e5-test"
    remote = OpenAIEncoder("e5-test", base_url=f"{guarded}/v1", api_key=KEY, max_retries=0)
    np.testing.assert_allclose(
        remote.encode_documents(["alpha beta"]), hash_encoder.encode_documents(["alpha beta"]), atol=1e-6
    )


@pytest.fixture
def small(serve_app, hash_encoder):
    return serve_app(
        create_app(
            hash_encoder,
            model_name="e5-test",
            limits=Limits(max_body_bytes=1000),
            extra_routes=lambda api: add_chat_routes(api, "some/chat-model"),
        )
    )


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(small):
    host, port = urlparse(small).hostname, urlparse(small).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 300000000\r\n\r\n{"input": '
        )  # 300 MB announced, 10 bytes sent
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        assert reply.status == 413 and json.loads(reply.read())["error"]["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_is_refused_and_a_small_one_served(small):
    def chunks(size: int):
        payload = json.dumps({"input": "a " * size}).encode()
        for start in range(0, len(payload), 100):
            yield payload[start : start + 100]

    json_type = {"Content-Type": "application/json"}
    refused = httpx.post(f"{small}/v1/embeddings", content=chunks(2000), headers=json_type)
    assert error_of(refused, 413)["code"] == "request_too_large"
    served = httpx.post(f"{small}/v1/embeddings", content=chunks(10), headers=json_type)
    assert served.status_code == 200 and len(served.json()["data"]) == 1


def test_unknown_models_are_refused_with_404(small):
    error = error_of(httpx.post(f"{small}/v1/embeddings", json={"input": "a", "model": "gpt-x"}), 404)
    assert (error["code"], error["param"]) == (
        "model_not_found",
        "model",
    ) and "'gpt-x' does not exist" in error["message"]
    chat = {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"}
    assert error_of(httpx.post(f"{small}/v1/chat/completions", json=chat), 404)["code"] == "model_not_found"
    assert httpx.post(f"{small}/v1/embeddings", json={"input": "a", "model": "e5-test"}).status_code == 200
    models = [m["id"] for m in httpx.get(f"{small}/v1/models").json()["data"]]
    assert models == ["e5-test", "chat-model"]


def test_unknown_paths_and_methods_get_openai_errors(small):
    assert "Invalid URL (GET /v1/nothing)" in error_of(httpx.get(f"{small}/v1/nothing"), 404)["message"]
    assert "(GET /v1/embeddings)" in error_of(httpx.get(f"{small}/v1/embeddings"), 405)["message"]


@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2], [3]]])
def test_token_id_inputs_are_refused_with_a_message_that_says_so(small, tokens):
    error = error_of(httpx.post(f"{small}/v1/embeddings", json={"input": tokens}), 400)
    assert error["param"] == "input" and "token-id arrays are not supported" in error["message"]


@pytest.mark.parametrize(
    "path, body, param",
    [
        ("/v1/embeddings", '{"input": "a\\ud800b"}', "input"),
        ("/v1/embeddings", '{"input": ["ok", "a\\udcffb"]}', "input"),
        ("/v1/embeddings", '{"input": "a", "instruction": "x\\ud800"}', "instruction"),
        ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "hi \\ud800"}]}', "messages"),
    ],
)
def test_lone_surrogates_get_a_400(small, path, body, param):
    response = httpx.post(f"{small}{path}", content=body, headers={"Content-Type": "application/json"})
    error = error_of(response, 400)
    assert error["param"] == param and "lone surrogate" in error["message"]


def test_malformed_json_has_no_byte_offset_as_param(small):
    response = httpx.post(
        f"{small}/v1/embeddings", content=b'{"input": "a",,}', headers={"Content-Type": "application/json"}
    )
    error = error_of(response, 400)
    assert error["param"] is None and error["message"].startswith("invalid JSON body")


@pytest.mark.parametrize(
    "host, key, insecure, refused",
    [
        ("127.0.0.1", None, False, False),
        ("::1", None, False, False),
        ("localhost", None, False, False),
        ("0.0.0.0", None, False, True),
        ("example.org", None, False, True),
        ("0.0.0.0", KEY, False, False),
        ("0.0.0.0", None, True, False),
    ],
)
def test_listening_beyond_loopback_needs_a_key_or_insecure(host, key, insecure, refused):
    if refused:
        with pytest.raises(ValueError, match="--api-key"):
            check_exposure(host, key, insecure)
    else:
        check_exposure(host, key, insecure)


def serve(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "-m", "hash", "--chat-model", "none", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_serve_refuses_0000_without_a_key():
    process = serve("--host", "0.0.0.0", "--port", "1")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "refusing to listen on 0.0.0.0 without an API key" in err


def test_serve_takes_the_key_from_E5_API_KEY():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = serve("--port", str(port), env={"E5_API_KEY": KEY})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                refused = httpx.get(f"http://127.0.0.1:{port}/v1/models")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "server did not start"
                time.sleep(0.2)
        assert refused.status_code == 401
        ok = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
