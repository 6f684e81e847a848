"""Encoders shared across reruns and sessions through ``st.cache_resource`` (loaded once, with a spinner)."""

from __future__ import annotations

import streamlit as st

from embedder.protocol import Encoder
from embedder.registry import MODELS, load_encoder

from .session import Settings, settings

NO_OPTIONS = ("hash", "minilm")  # specs whose backends take no adapter/device options
# Specs offered in model pickers (``openai:<model>`` and HF ids are typed in); ``bm25`` is evaluation's baseline.
MODEL_CHOICES = [*(spec for spec in MODELS if not spec.startswith(("<", "openai:"))), "bm25"]


def encoder_options(spec: str, current: Settings) -> dict:
    """The ``load_encoder`` overrides that apply to a spec's backend."""
    if spec.startswith("openai:"):
        return {"base_url": current.embed_base_url, "api_key": current.embed_api_key()}
    if spec in NO_OPTIONS:
        return {}
    return {"adapter": current.adapter if spec == current.model else None, "device": current.device}


@st.cache_resource(show_spinner="Loading the embedder (first use only)…", max_entries=6)
def _cached_encoder(spec: str, options: tuple[tuple[str, object], ...]) -> Encoder:
    # The key (when any) is part of the cache key so one session's key never serves another's request.
    return load_encoder(spec, **dict(options))


def get_encoder(spec: str | None = None) -> Encoder:
    """The encoder a spec names (default: this session's model), with this session's options."""
    current = settings()
    spec = spec or current.model
    return _cached_encoder(spec, tuple(sorted(encoder_options(spec, current).items())))


def get_models(specs: list[str]) -> list:
    """Encoders (through the shared cache) or, for ``bm25``, evaluation's lexical retriever."""
    from embedder.evaluation.runner import open_model

    return [open_model(spec) if spec == "bm25" else get_encoder(spec) for spec in specs]
