"""Benchmarks: BEIR folders from the data root through several models (``run_beir``, as ``e5 bench beir``),
the history of stored results, and the personalized passkey task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from embedder.evaluation.report import HEADERS, export_results, present_columns
from embedder.evaluation.results import Result, ResultStore
from embedder.evaluation.runner import run_beir
from ui.corpora import beir_folders, splits_of
from ui.resources import MODEL_CHOICES, get_models
from ui.session import config, settings
from ui.widgets import ProgressBar, readable_errors


def results_frame(results: list[Result]) -> pd.DataFrame:
    columns = [c for c in present_columns(results) if c != "subset"]
    records = [r.to_dict() | {"dataset": r.dataset_label} for r in results]
    return pd.DataFrame(records, columns=columns).rename(columns=HEADERS)


def show_results(results: list[Result]) -> None:
    frame = results_frame(results)
    st.dataframe(frame, hide_index=True)
    st.bar_chart(frame, x="dataset", y="nDCG@10", color="model", stack=False)
    formats = st.columns(3)
    for column, (fmt, mime) in zip(formats, (("csv", "text/csv"), ("markdown", "text/markdown"),
                                             ("json", "application/json"))):
        column.download_button(f"Download {fmt}", export_results(results, fmt), f"beir-results.{fmt}", mime)


def beir_form(folders: list[Path]) -> None:
    current = settings().model
    splits = splits_of(folders)
    with st.form("beir"):
        names = st.multiselect("Datasets", [f.name for f in folders], default=[f.name for f in folders[:1]])
        models = st.multiselect("Models", MODEL_CHOICES, default=[m for m in (current, "bm25") if m in MODEL_CHOICES])
        extra = st.text_input("Other model specs, comma-separated", placeholder="openai:text-embedding-3-small")
        split = st.selectbox("Split", splits, index=splits.index("test") if "test" in splits else 0)
        use_subset = st.checkbox("Seeded subset (keeps every relevant document of the chosen queries)", value=True)
        queries, docs, seed = st.columns(3)
        max_queries = queries.number_input("Max queries", min_value=1, value=50)
        max_docs = docs.number_input("Max documents", min_value=1, value=500)
        seed = seed.number_input("Seed", min_value=0, value=0)
        submitted = st.form_submit_button("Run benchmark", type="primary")
    if not submitted:
        return
    specs = models + [s.strip() for s in extra.split(",") if s.strip()]
    with readable_errors("The benchmark"):
        if not names or not specs:
            raise ValueError("pick at least one dataset and one model")
        progress = ProgressBar("Loading datasets…")
        results = run_beir([config().data_root / name for name in names], get_models(specs), split=split,
                           max_queries=max_queries if use_subset else None,
                           max_docs=max_docs if use_subset else None, seed=seed, progress=progress)
        progress.done(f"Done: {len(results)} results stored")
        st.session_state["beir_results"] = results


def beir_tab() -> None:
    root = config().data_root
    folders = beir_folders(root)
    st.caption(f"Datasets from `{root}` (set E5_UI_DATA_ROOT to use another folder).")
    if not folders:
        st.warning(f"No BEIR-format folders (corpus.jsonl, queries.jsonl, qrels/) under {root}.")
        return
    beir_form(folders)
    if st.session_state.get("beir_results"):
        show_results(st.session_state["beir_results"])


def history_tab() -> None:
    with readable_errors("Reading the results store"):
        results = ResultStore().query(kind="beir", limit=500)
        if not results:
            st.info("No stored BEIR results yet: run a benchmark (here or with `e5 bench beir`).")
            return
        st.dataframe(results_frame(results), hide_index=True)


st.title("Benchmarks")
beir, history = st.tabs(["BEIR", "History"])
with beir:
    beir_tab()
with history:
    history_tab()
