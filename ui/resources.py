"""Encoders shared across reruns and sessions through ``st.cache_resource`` (loaded once, with a spinner)."""

from __future__ import annotations

import streamlit as st

from embedder.protocol import Encoder
from embedder.registry import API_OPTIONS, LLM_OPTIONS, REGISTRY, load_encoder, load_model, lookup

from .session import SessionSettings, settings

# Specs offered in model pickers (``openai:<model>``, ``hybrid:<spec>`` and HF ids are typed in).
MODEL_CHOICES = [spec for spec in REGISTRY if "<" not in spec]
ENCODER_CHOICES = [spec for spec in MODEL_CHOICES if REGISTRY[spec].encoder]


def encoder_options(spec: str, current: SessionSettings) -> dict:
    """The ``load_encoder`` overrides that apply to a spec's backend."""
    options = lookup(spec).options
    if options == API_OPTIONS:
        return {"base_url": current.embed_base_url, "api_key": current.embed_api_key()}
    if options != LLM_OPTIONS:
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
    """Encoders (through the shared cache) or, for retriever specs (``bm25``), the registry's retriever."""
    return [get_encoder(spec) if lookup(spec).encoder else load_model(spec) for spec in specs]
