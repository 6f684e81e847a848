"""Settings page: choices apply to the session; typed API keys never reach disk or the database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from apptest import app_test

SECRET = "sk-test-do-not-store-4f1c9a"


@pytest.fixture(autouse=True)
def hash_model(monkeypatch):
    monkeypatch.setenv("E5_UI_MODEL", "hash")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_settings_apply_to_the_session_and_keys_stay_in_memory(e5_home):
    at = app_test("settings")
    assert not at.exception
    at.selectbox[0].select("minilm")
    at.text_input(key="chat_model").input("local-chat")
    at.text_input(key="chat_url").input("http://127.0.0.1:9/v1")
    at.text_input(key="chat_key").input(SECRET)
    at.text_input(key="embed_key").input(SECRET)
    at.button[0].click().run()
    assert not at.exception and not at.error
    current = at.session_state["e5_settings"]
    assert (current.model, current.chat_model, current.chat_api_key()) == ("minilm", "local-chat", SECRET)
    assert SECRET not in repr(current)
    assert "`minilm`" in at.sidebar.caption[0].value
    assert files_containing(e5_home, SECRET.encode()) == []


def test_an_empty_custom_model_is_refused_with_a_message():
    at = app_test("settings")
    at.selectbox[0].select(at.selectbox[0].options[-1])  # "other": the spec box is left empty
    at.button[0].click().run()
    assert not at.exception
    assert "choose a model spec" in at.error[0].value
    assert at.session_state["e5_settings"].model == "hash"


def test_configuration_comes_from_the_environment(monkeypatch, tmp_path):
    from ui.config import load_config

    monkeypatch.setenv("E5_UI_ALLOWED_ROOTS", f"{tmp_path}/a{os.pathsep}{tmp_path}/b")
    monkeypatch.setenv("E5_UI_DATA_ROOT", str(tmp_path / "beir"))
    monkeypatch.setenv("E5_UI_DEVICE", "cpu")
    config = load_config()
    assert config.allowed_roots == (tmp_path / "a", tmp_path / "b")
    assert (config.model, config.device, config.data_root) == ("hash", "cpu", tmp_path / "beir")
    monkeypatch.setenv("E5_UI_DEVICE", "gpu")
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, mps"):
        load_config()
