"""Shared fixtures: a throw-away E5_HOME, a tiny random LLM of the default architecture, encoders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep the dequantised default weights between runs even though each run gets a fresh E5_HOME.
os.environ.setdefault("E5_MODEL_CACHE", str(Path.home() / ".cache" / "e5" / "models"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def e5_home(tmp_path_factory) -> Path:
    """Every test session writes collections, caches and results into a fresh folder."""
    home = tmp_path_factory.mktemp("e5_home")
    os.environ["E5_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The packaged SmolLM2-135M-Instruct as a transformers folder (dequantised once, then cached)."""
    from embedder.loading import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory, default_model_dir) -> Path:
    """A randomly initialised 2-layer Llama with the default model's tokenizer: real mechanics, fast."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    folder = tmp_path_factory.mktemp("tiny_llm")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def hash_encoder():
    """Deterministic lexical encoder for pipeline tests that need no neural model."""
    from embedder.backends.hashing import HashingEncoder

    return HashingEncoder()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only benchmark data beside the checkout; tests needing it skip cleanly without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def serve_app():
    """Run an ASGI app under uvicorn on a free 127.0.0.1 port; yields a function returning its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    servers = []

    def start(app) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=5)
