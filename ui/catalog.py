"""Collections as the pages see them: listed, and opened with the encoder they were built with (cached
per collection state)."""

from __future__ import annotations

import streamlit as st

from embedder.protocol import Encoder
from rag.catalog import CollectionInfo, list_collections
from rag.collection import Collection, open_collection

from .resources import get_encoder
from .session import settings


def collection_infos() -> dict[str, CollectionInfo]:
    return {info.name: info for info in list_collections()}


def spec_for(name: str) -> str:
    """A collection's recorded model spec; this session's model for a new one."""
    info = collection_infos().get(name)
    return (info.spec if info else None) or settings().model


@st.cache_resource(show_spinner="Opening the collection…", max_entries=8)
def _opened(name: str, encoder_name: str, state: str, _encoder: Encoder) -> Collection:
    # ``state`` changes whenever the collection is re-indexed, so a stale FAISS index is never served.
    return open_collection(name, _encoder)


def open_for_search(info: CollectionInfo) -> Collection:
    encoder = get_encoder(info.spec or settings().model)
    return _opened(info.name, encoder.name, f"{info.updated}|{info.chunks}", encoder)
