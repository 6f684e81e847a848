"""Personalized passkey: generator invariants, truncation reporting, long-context knobs, a real run."""

from __future__ import annotations

import re

import numpy as np
import pytest

from embedder.backends.llm import LLMEncoder
from embedder.config import EmbedderConfig
from embedder.evaluation.passkey import (
    apply_long_context,
    global_rope,
    make_task,
    parse_lengths,
    plot_passkey,
    run_passkey,
    token_counter,
)


@pytest.fixture(scope="module")
def tiny_encoder(tiny_llm_dir):
    return LLMEncoder(EmbedderConfig(model=str(tiny_llm_dir), max_length=128), show_progress=False)


@pytest.mark.parametrize("length", [256, 2048])
def test_generator_invariants(tiny_encoder, length):
    count = token_counter(tiny_encoder)
    task = make_task(length, count, candidates=100, seed=7)
    assert len(set(task.names)) == 100 and len(task.documents) == len(task.queries) == 100
    assert all(length - 12 <= n <= length for n in task.tokens)  # within one filler sentence or two
    assert task.tokens == count(task.documents)
    for document, name, passkey in zip(task.documents, task.names, task.passkeys, strict=True):
        assert document.count("pass key is") == 1 and document.count(name) == 2
        assert re.findall(r"\d{5}", document) == [passkey, passkey]
    positions = [doc.index("pass key is") / len(doc) for doc in task.documents]
    assert min(positions) < 0.2 and max(positions) > 0.8  # inserted anywhere, not at a fixed spot


def test_generator_is_seeded(tiny_encoder):
    count = token_counter(tiny_encoder)
    assert make_task(256, count, seed=1) == make_task(256, count, seed=1)
    assert make_task(256, count, seed=1).passkeys != make_task(256, count, seed=2).passkeys
    with pytest.raises(ValueError, match="candidates"):
        make_task(256, count, candidates=1)


def test_lexical_encoder_solves_it(hash_encoder):
    [result] = run_passkey(hash_encoder, [512], candidates=100)
    assert (
        result.metrics["accuracy"] >= 0.9 and result.config["truncated_to"] is None
    )  # 256 hash buckets collide


def test_lengths_beyond_the_context_are_reported_truncated(tiny_encoder, tmp_path):
    short, long = run_passkey(tiny_encoder, [256, 2048], candidates=5, seed=0)  # tiny model: 1024 positions
    assert short.config["truncated_to"] is None and short.config["truncated_docs"] == 0
    assert long.config["truncated_to"] == 1024 and long.config["truncated_docs"] == 5
    assert 0.0 <= long.metrics["accuracy"] <= 1.0
    assert tiny_encoder.config.max_length == 128  # the temporary context was given back
    assert plot_passkey([short, long], tmp_path / "passkey.png").read_bytes()[:4] == b"\x89PNG"


def test_rope_theta_knob_changes_the_vectors(tiny_llm_dir):
    encoder = LLMEncoder(EmbedderConfig(model=str(tiny_llm_dir)), show_progress=False)
    text = ["a fairly long sentence so that positions further away matter for the rotary tables"]
    before = encoder.encode_documents(text)
    apply_long_context(encoder, rope_theta=1e6)
    assert encoder.model.config.rope_parameters["rope_theta"] == 1e6
    assert not np.allclose(before, encoder.encode_documents(text), atol=1e-5)
    assert run_passkey(encoder, [64], candidates=2)[0].config["rope_theta"] == 1e6
    with pytest.raises(ValueError, match="no sliding-window attention"):
        apply_long_context(encoder, sliding_window=128)


@pytest.mark.slow
def test_default_model_at_256_tokens():
    """The real task on the real model (about 25k tokens). The untrained 135M model scores near
    chance (0.02 measured, chance 0.01), so the checks are on the run, not on a quality bar."""
    from embedder.registry import load_encoder

    encoder = load_encoder("default")
    configured = encoder.config.max_length
    [result] = run_passkey(encoder, [256], candidates=100, seed=0)
    assert result.config["truncated_docs"] == 0 and 240 <= result.config["mean_tokens"] <= 256
    assert result.config["candidates"] == 100 and 0 <= result.metrics["accuracy"] <= 1
    assert result.config["rope_theta"] == global_rope(encoder.model.config)["rope_theta"] > 0
    assert encoder.config.max_length == configured  # the run's longer context was given back


def test_parse_lengths():
    assert parse_lengths("256, 512,1k,32K") == [256, 512, 1024, 32768]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_lengths("256,lots")


def test_global_rope_of_flat_and_per_layer_type_configs():
    from types import SimpleNamespace

    flat = SimpleNamespace(rope_parameters={"rope_theta": 1e5, "rope_type": "default"})
    gemma = SimpleNamespace(
        rope_parameters={"full_attention": {"rope_theta": 1e6}, "sliding_attention": {"rope_theta": 1e4}}
    )
    assert global_rope(flat)["rope_theta"] == 1e5 and global_rope(gemma)["rope_theta"] == 1e6
    assert global_rope(SimpleNamespace()) == {}
