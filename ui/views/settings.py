"""Settings: the embedder (model, adapter, device) and the OpenAI-compatible endpoints for embeddings and chat.

Keys typed here stay in this browser session's memory; nothing on this page is written anywhere.
"""

from __future__ import annotations

import streamlit as st

from embedder.registry import MODELS
from ui.config import DEVICES
from ui.resources import ENCODER_CHOICES
from ui.session import config, settings, update_settings
from ui.widgets import readable_errors

PRESETS = ENCODER_CHOICES
OTHER = "other (Hugging Face id, folder or openai:<model>)"

st.title("Settings")
current = settings()
st.caption("Applies to this browser session only. Start-up defaults come from E5_UI_* environment variables.")

with st.form("settings"):
    st.subheader("Embedder")
    choices = [*PRESETS, OTHER]
    preset = st.selectbox(
        "Model",
        choices,
        index=choices.index(current.model) if current.model in PRESETS else len(PRESETS),
        format_func=lambda s: f"{s}: {MODELS[s]}" if s in MODELS else s,
    )
    custom = st.text_input(
        "Other model spec",
        value="" if current.model in PRESETS else current.model,
        help="Used when Model is 'other': an HF id, a local folder or openai:<model>.",
    )
    adapter = st.text_input("LoRA adapter folder (LLM models)", value=current.adapter or "")
    devices = list(dict.fromkeys([current.device, *DEVICES]))
    device = st.selectbox("Device", devices, index=0)

    st.subheader("Embeddings API (openai:<model> specs)")
    embed_url = st.text_input(
        "Base URL",
        value=current.embed_base_url or "",
        key="embed_url",
        placeholder="http://127.0.0.1:8000/v1 (e5 serve) or empty for OpenAI",
    )
    embed_key = st.text_input(
        "API key",
        type="password",
        key="embed_key",
        placeholder="from OPENAI_API_KEY" if current.embed_api_key() else "not set",
    )

    st.subheader("Chat API (Ask page)")
    chat_url = st.text_input("Base URL", value=current.chat_base_url or "", key="chat_url")
    chat_model = st.text_input("Chat model", value=current.chat_model or "", key="chat_model")
    chat_key = st.text_input(
        "API key",
        type="password",
        key="chat_key",
        placeholder="from environment" if current.chat_api_key() else "not set",
    )
    saved = st.form_submit_button("Apply for this session", type="primary")

if saved:
    with readable_errors("Saving the settings"):
        update_settings(
            model=custom if preset == OTHER else preset,
            adapter=adapter,
            device=device,
            embed_base_url=embed_url,
            chat_base_url=chat_url,
            chat_model=chat_model,
            embed_key=embed_key or current.embed_key,
            chat_key=chat_key or current.chat_key,
        )
        st.success(f"Using `{settings().model}` for new collections and searches in this session.")

st.info(
    "API keys are held in this browser session's memory only: never written to disk or the database. "
    "Leave a key empty to use the environment (OPENAI_API_KEY, E5_CHAT_API_KEY).",
    icon=":material/key:",
)
st.subheader("Start-up configuration")
st.json(
    {
        "data root (Benchmarks)": str(config().data_root),
        "allowed roots (Index)": [str(p) for p in config().allowed_roots],
    }
)
