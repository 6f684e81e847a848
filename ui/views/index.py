"""Index: a folder (inside the allowed roots only) into a collection with ``rag.indexer.index_folder``, as
``e5 index`` does, with the embedder chosen here for a new collection; the report of added, changed,
removed and skipped files and hidden folders; refresh and delete collections."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from rag.catalog import remove_collection
from rag.config import IndexConfig, ScanConfig, check_collection_name
from rag.indexer import IndexReport, index_folder
from ui.catalog import collection_infos, spec_for
from ui.paths import resolve_allowed
from ui.resources import ENCODER_CHOICES, get_encoder
from ui.session import config, settings
from ui.widgets import ProgressBar, readable_errors

REPORT_KEY, FLASH_KEY = "index_report", "index_flash"


def run_index(
    root: Path, name: str, index_config: IndexConfig | None, scan: ScanConfig, spec: str | None = None
) -> None:
    """Index with the collection's own model (``spec`` for a new one), showing the estimate live."""
    check_collection_name(name)
    spec = spec if spec and name not in collection_infos() else spec_for(name)
    encoder = get_encoder(spec)
    with st.status(f"Indexing {root} into {name!r} with {spec}…", expanded=True) as status:
        report = index_folder(
            root,
            encoder,
            collection=name,
            config=index_config,
            scan=scan,
            spec=spec,
            progress=False,
            echo=status.write,
            on_progress=ProgressBar("Encoding"),
        )
        status.update(label=report.summary(), state="complete", expanded=False)
    st.session_state[REPORT_KEY] = report
    st.rerun()  # redraw the collection list with the new state


def embedder_choices() -> list[str]:
    """Encoders a collection can be built with: the presets, and this session's model if it is another."""
    return list(dict.fromkeys([*ENCODER_CHOICES, settings().model]))


def show_report(report: IndexReport) -> None:
    st.success(report.summary())
    if report.hidden:
        st.warning(
            f"{len(report.hidden)} hidden folder{'s' if len(report.hidden) != 1 else ''} left out: "
            + ", ".join(f"`{folder}`" for folder in report.hidden)
            + ". Tick 'Include hidden files and folders' and index again to include them."
        )
    if report.skipped:
        st.warning(f"{len(report.skipped)} file{'s' if len(report.skipped) != 1 else ''} skipped")
        st.dataframe(
            pd.DataFrame([(s.rel, s.reason) for s in report.skipped], columns=["file", "reason"]),
            hide_index=True,
        )
    for rel, note in report.notes:
        st.caption(f"{rel}: {note}")
    for label, paths in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        if paths:
            with st.expander(f"{len(paths)} {label}"):
                st.text("\n".join(paths))


def index_form() -> None:
    roots = config().allowed_roots
    st.caption("Allowed folders: " + ", ".join(f"`{root}`" for root in roots) + " (set E5_UI_ALLOWED_ROOTS).")
    with st.form("index"):
        folder = st.text_input("Folder", placeholder=str(roots[0]))
        name = st.text_input("Collection name", placeholder="default: the folder's name")
        choices = embedder_choices()
        spec = st.selectbox(
            "Embedder for a new collection (an existing one keeps its own)",
            choices,
            index=choices.index(settings().model),
            help="minilm is quick on a CPU; default is the project's LLM embedder (slower).",
        )
        hidden = st.checkbox("Include hidden files and folders (names starting with '.')")
        with st.expander("Options"):
            st.caption("Chunking and the FAISS index are fixed when a collection is created.")
            tokens, overlap, factory = st.columns(3)
            chunk_tokens = tokens.number_input(
                "Tokens per chunk", min_value=8, value=IndexConfig.chunk_tokens
            )
            overlap_tokens = overlap.number_input(
                "Overlap (tokens)", min_value=0, value=None, placeholder="an eighth of a chunk"
            )
            faiss_factory = factory.text_input(
                "FAISS index", value=IndexConfig.factory, help="Flat, HNSW32, …"
            )
            excludes = st.text_input("Exclude (globs, comma-separated)", placeholder="*.log, build/*")
            max_mb = st.number_input("Skip files larger than (MB)", min_value=0.1, value=5.0)
        submitted = st.form_submit_button("Index", type="primary")
    if submitted:
        with readable_errors("Indexing"):
            root = resolve_allowed(folder, roots)
            name = name.strip() or root.name
            new = name not in collection_infos()
            index_config = (
                IndexConfig(
                    chunk_tokens=int(chunk_tokens),
                    overlap=None if overlap_tokens is None else int(overlap_tokens),
                    factory=faiss_factory.strip(),
                )
                if new
                else None
            )
            scan = ScanConfig(
                max_file_bytes=int(max_mb * 1e6),
                include_hidden=hidden,
                allowed_roots=roots,
                excludes=tuple(g.strip() for g in excludes.split(",") if g.strip()),
            )
            run_index(root, name, index_config, scan, spec)


def manage_collections() -> None:
    infos = collection_infos()
    st.subheader("Collections")
    if not infos:
        st.info("No collections yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "name": i.name,
                    "spec": i.spec,
                    "model": i.model,
                    "documents": i.documents,
                    "chunks": i.chunks,
                    "index MB": round(i.index_bytes / 1e6, 2),
                    "updated": i.updated,
                    "folder": i.root,
                }
                for i in infos.values()
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "updated": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "folder": st.column_config.TextColumn(width="large"),
        },
    )
    name = st.selectbox("Collection", list(infos), key="manage_name")
    refresh, delete = st.columns(2)
    if refresh.button("Refresh (re-index new and changed files)"):
        with readable_errors("Refreshing"):
            if not infos[name].root:
                raise ValueError(f"collection {name!r} has no recorded folder to refresh from")
            roots = config().allowed_roots
            run_index(resolve_allowed(infos[name].root, roots), name, None, ScanConfig(allowed_roots=roots))
    confirmed = delete.checkbox("I want to delete this collection", key="confirm_delete")
    if delete.button("Delete", disabled=not confirmed):
        with readable_errors("Deleting"):
            count = remove_collection(name)
            st.session_state[FLASH_KEY] = f"Deleted collection {name!r} ({count} documents)."
            st.rerun()


st.title("Index a folder")
if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY))
if REPORT_KEY in st.session_state:
    show_report(st.session_state.pop(REPORT_KEY))
index_form()
manage_collections()
