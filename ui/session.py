"""Per-browser-session choices from the Settings page, kept in ``st.session_state`` only.

API keys typed by the user live here and nowhere else: never on disk, never in the database.
A key left empty falls back to the environment (``OPENAI_API_KEY``, ``E5_CHAT_API_KEY``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import streamlit as st

from .config import DEVICES, UIConfig, load_config

STATE_KEY = "e5_settings"


@dataclass(frozen=True)
class SessionSettings:
    """What this session embeds and chats with."""

    model: str
    adapter: str | None
    device: str
    embed_base_url: str | None
    chat_base_url: str | None
    chat_model: str | None
    embed_key: str | None = dataclasses.field(default=None, repr=False)
    chat_key: str | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("choose a model spec (e.g. default, minilm, hash, openai:<model>)")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be one of {', '.join(DEVICES)} or cuda:N, got {self.device!r}")

    @classmethod
    def from_config(cls, config: UIConfig) -> SessionSettings:
        return cls(
            model=config.model,
            adapter=config.adapter,
            device=config.device,
            embed_base_url=config.embed_base_url,
            chat_base_url=config.chat_base_url,
            chat_model=config.chat_model,
        )

    def embed_api_key(self) -> str | None:
        return self.embed_key or os.environ.get("OPENAI_API_KEY") or None

    def chat_api_key(self) -> str | None:
        return self.chat_key or os.environ.get("E5_CHAT_API_KEY") or os.environ.get("OPENAI_API_KEY") or None

    def chat_configured(self) -> bool:
        """Answers need a chat model and either an endpoint or a key (OpenAI's own service)."""
        return bool(self.chat_model and (self.chat_base_url or self.chat_api_key()))


def config() -> UIConfig:
    """The start-up configuration (read once per session, so environment changes apply to new sessions)."""
    if "e5_config" not in st.session_state:
        st.session_state["e5_config"] = load_config()
    return st.session_state["e5_config"]


def settings() -> SessionSettings:
    if STATE_KEY not in st.session_state:
        st.session_state[STATE_KEY] = SessionSettings.from_config(config())
    return st.session_state[STATE_KEY]


def update_settings(**changes) -> SessionSettings:
    """Replace some settings for this session; empty strings count as unset."""
    cleaned = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in changes.items()}
    st.session_state[STATE_KEY] = dataclasses.replace(settings(), **cleaned)
    return st.session_state[STATE_KEY]
