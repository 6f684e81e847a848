"""The local chat endpoint of ``e5 serve`` over real HTTP: mechanics on a tiny random LLM, and one
end-to-end synthetic-data run on the real default SmolLM2 (slow)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import openai
import pytest
import uvicorn
from sqlalchemy import select
from transformers import AutoTokenizer

from embedder.cli import chat_routes
from embedder.serving.chat import add_chat_routes
from embedder.serving.server import create_app
from trainer.synth.config import EndpointConfig, SynthConfig
from trainer.synth.pipeline import run_synth
from trainer.synth.report import synth_stats
from trainer.synth.store import Response, open_store

MESSAGES = [{"role": "user", "content": "Name a colour."}]


@contextmanager
def serving(app):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def tiny_chat(tiny_llm_dir, hash_encoder):
    app = create_app(hash_encoder, extra_routes=lambda api: add_chat_routes(api, str(tiny_llm_dir)))
    with serving(app) as url:
        yield openai.OpenAI(base_url=url, api_key="unused", max_retries=0)


def test_completion_shape_and_usage(tiny_chat, tiny_llm_dir):
    response = tiny_chat.chat.completions.create(model=tiny_llm_dir.name, messages=MESSAGES, max_tokens=6)
    choice = response.choices[0]
    tokenizer = AutoTokenizer.from_pretrained(tiny_llm_dir)
    prompt = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert response.model == tiny_llm_dir.name
    assert response.usage.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False).input_ids)
    assert 1 <= response.usage.completion_tokens <= 6
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason == ("length" if response.usage.completion_tokens == 6 else "stop")


def test_json_mode_primes_an_object(tiny_chat, tiny_llm_dir):
    response = tiny_chat.chat.completions.create(
        model=tiny_llm_dir.name, messages=MESSAGES, max_tokens=4, response_format={"type": "json_object"}
    )
    assert response.choices[0].message.content.startswith("{")


def test_greedy_and_seeded_sampling_are_reproducible(tiny_chat, tiny_llm_dir):
    def ask(**kwargs) -> str:
        return (
            tiny_chat.chat.completions.create(
                model=tiny_llm_dir.name, messages=MESSAGES, max_tokens=8, **kwargs
            )
            .choices[0]
            .message.content
        )

    assert ask(temperature=0) == ask(temperature=0)
    assert ask(temperature=1.0, seed=7) == ask(temperature=1.0, seed=7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stream": True}, "streaming is not supported"),
        ({"max_tokens": 5000}, "exceeds the model's context of 1024"),
        ({"n": 2}, "only n=1"),
        ({"top_p": 0}, "top_p"),
    ],
)
def test_bad_requests_get_openai_errors(tiny_chat, tiny_llm_dir, kwargs, message):
    with pytest.raises(openai.BadRequestError, match=message):
        tiny_chat.chat.completions.create(model=tiny_llm_dir.name, messages=MESSAGES, **kwargs)


def test_chat_can_be_disabled():
    assert chat_routes("none") is None and chat_routes(None) is not None


@pytest.mark.slow
def test_synth_end_to_end_with_default_model(hash_encoder, tmp_path):
    """A few real examples through `e5 serve`'s chat routes and the default SmolLM2 (quality not asserted)."""
    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    with serving(create_app(hash_encoder, extra_routes=chat_routes(None))) as url:
        endpoint = EndpointConfig(base_url=url, max_tokens=48, concurrency=1, timeout=300, max_retries=0)
        summary = run_synth(
            SynthConfig(n=2, types=("sts",), languages=(("English", 1.0),), endpoint=endpoint),
            db,
            progress=False,
        )
    assert summary.sent == 2 and summary.failed == 0
    assert summary.accepted + summary.rejected == 2
    stats = synth_stats(db)
    assert stats.accepted == summary.accepted
    assert sum(stats.rejections.values()) == summary.rejected
    with open_store(db)() as session:
        responses = session.scalars(select(Response)).all()
    assert [r.model for r in responses] == ["SmolLM2-135M-Instruct"] * 2
    assert all(r.content.startswith("{") and 0 < r.completion_tokens <= 48 for r in responses)
