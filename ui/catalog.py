"""Collections as the pages see them: listed, opened with the encoder they were built with (cached
per collection state), and each hit shown inside the text of its document."""

from __future__ import annotations

import html
import re
from pathlib import Path

import streamlit as st

from embedder.protocol import Encoder
from rag.collection import Collection, open_collection
from rag.manage import CollectionInfo, list_collections
from rag.readers import Unreadable, read_document
from rag.search import Hit

from .resources import get_encoder
from .session import settings

CONTEXT_CHARS = 200


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


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def document_text(root: str | None, path: str) -> str | None:
    """The extracted text of a hit's document, when it is still readable from its folder."""
    if not root:
        return None
    try:
        return read_document(Path(root) / path).text
    except Unreadable:
        return None


def hit_in_context(hit: Hit, text: str | None, width: int = CONTEXT_CHARS) -> str:
    """HTML: the hit's chunk marked inside the text around it (just the chunk if the file changed since)."""
    chunk = f"<mark>{html.escape(flat(hit.text))}</mark>"
    if text is None or text[hit.start:hit.end] != hit.text:
        return chunk
    before, after = flat(text[max(0, hit.start - width):hit.start]), flat(text[hit.end:hit.end + width])
    return (("…" if hit.start > width else "") + html.escape(before) + chunk + html.escape(after)
            + ("…" if hit.end + width < len(text) else ""))


def show_hit(label: str, hit: Hit, root: str | None) -> None:
    """One hit: label, title, score, which side found it, path and position, then its chunk marked in context."""
    st.markdown(f"**{label} {hit.title or hit.path}** · score `{hit.score:.3f}` · {hit.found_by}  \n`{hit.path}` · "
                f"{hit.position}")
    st.markdown(f"<div class='e5-hit'>{hit_in_context(hit, document_text(root, hit.path))}</div>",
                unsafe_allow_html=True)
