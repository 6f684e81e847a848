"""Smoke tests of the embedder's CLI commands (typer runner, and ``e5 serve`` as a real process)."""

import json
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
from typer.testing import CliRunner

from ui.cli import app

runner = CliRunner()


def test_models_lists_every_spec():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    for spec in ("default", "base", "minilm", "openai:<model>"):
        assert spec in result.output


def test_embed_jsonl_from_stdin():
    result = runner.invoke(app, ["embed", "-m", "hash"], input="first text\n\nsecond text\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2 and len(rows[0]["embedding"]) == 256


def test_embed_queries_to_npy(tmp_path):
    source = tmp_path / "texts.txt"
    source.write_text("what is rain\nwhy is the sky blue\n", encoding="utf-8")
    out = tmp_path / "vectors.npy"
    result = runner.invoke(app, ["embed", str(source), "-o", str(out), "-m", "hash", "--task", "scifact"])
    assert result.exit_code == 0, result.output
    vectors = np.load(out)
    assert vectors.shape == (2, 256) and vectors.dtype == np.float32


def test_embed_errors_are_one_clear_line(tmp_path):
    missing = runner.invoke(app, ["embed", "-m", str(tmp_path / "nope")], input="text\n")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    empty = runner.invoke(app, ["embed", "-m", "hash"], input="\n\n")
    assert empty.exit_code == 2 and "no input texts" in empty.output
    unknown_task = runner.invoke(app, ["embed", "-m", "hash", "--task", "nope"], input="x\n")
    assert unknown_task.exit_code != 0


def test_serve_runs_as_a_process_on_loopback():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "-m", "hash", "--port", str(port), "--chat-model", "none"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "server did not start"
                time.sleep(0.2)
        assert models["data"][0]["id"] == "hash"
        body = httpx.post(f"http://127.0.0.1:{port}/v1/embeddings", json={"input": ["a b", "c"]}).json()
        assert len(body["data"]) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)
