"""Benchmarks: BEIR folders from the data root through several models (``run_beir``, as ``e5 bench beir``),
the personalized passkey task (``run_passkey``, as ``e5 bench passkey``), and the stored history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from embedder.evaluation.metrics import METRIC_NAMES
from embedder.evaluation.passkey import LENGTHS, apply_long_context, run_passkey
from embedder.evaluation.query import BATCH_DOCS
from embedder.evaluation.report import HEADERS, export_results, present_columns
from embedder.evaluation.results import Result, ResultStore
from embedder.evaluation.runner import run_beir
from embedder.registry import load_model
from ui.corpora import beir_folders, splits_of
from ui.resources import ENCODER_CHOICES, MODEL_CHOICES, get_encoder, get_models
from ui.session import config, settings
from ui.widgets import ProgressBar, readable_errors

if TYPE_CHECKING:
    from embedder.protocol import Encoder

SCALED = {*METRIC_NAMES, "accuracy"}  # shown ×100, as in the README's tables and the BEIR papers


def results_frame(results: list[Result]) -> pd.DataFrame:
    """One row per result; metrics ×100, with ``×100`` in their headers."""
    columns = [c for c in present_columns(results) if c != "subset"]
    records = [r.to_dict() | {"dataset": r.dataset_label} for r in results]
    frame = pd.DataFrame(records, columns=columns)
    scaled = [c for c in columns if c in SCALED]
    frame[scaled] = (frame[scaled] * 100).round(1)
    return frame.rename(columns={c: HEADERS.get(c, c) + (" ×100" if c in SCALED else "") for c in columns})


def show_results(results: list[Result]) -> None:
    frame = results_frame(results)
    st.dataframe(frame, hide_index=True)
    st.bar_chart(frame, x="model", y="nDCG@10 ×100", color="dataset", stack=False, horizontal=True)
    formats = st.columns(3)
    for column, (fmt, mime) in zip(
        formats,
        (("csv", "text/csv"), ("markdown", "text/markdown"), ("json", "application/json")),
        strict=True,
    ):
        column.download_button(f"Download {fmt}", export_results(results, fmt), f"beir-results.{fmt}", mime)


def beir_form(folders: list[Path]) -> None:
    current = settings().model
    splits = splits_of(folders)
    with st.form("beir"):
        names = st.multiselect("Datasets", [f.name for f in folders], default=[f.name for f in folders[:1]])
        models = st.multiselect(
            "Models", MODEL_CHOICES, default=[m for m in (current, "bm25") if m in MODEL_CHOICES]
        )
        extra = st.text_input(
            "Other model specs, comma-separated", placeholder="openai:text-embedding-3-small"
        )
        split = st.selectbox("Split", splits, index=splits.index("test") if "test" in splits else 0)
        use_subset = st.checkbox(
            "Seeded subset (keeps every relevant document of the chosen queries)", value=True
        )
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
        results = run_beir(
            [config().data_root / name for name in names],
            get_models(specs),
            split=split,
            max_queries=max_queries if use_subset else None,
            max_docs=max_docs if use_subset else None,
            seed=seed,
            progress=progress,
            batch_size=BATCH_DOCS,
        )
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


def passkey_frame(results: list[Result]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": r.model,
                "length": r.config["length"],
                "accuracy ×100": round(r.metrics["accuracy"] * 100, 1),
                "mean tokens": r.config.get("mean_tokens"),
                "truncated to": r.config.get("truncated_to"),
                "wall s": r.wall_s,
            }
            for r in results
        ]
    )


def show_passkey(results: list[Result]) -> None:
    frame = passkey_frame(results)
    st.dataframe(frame, hide_index=True)
    st.line_chart(frame, x="length", y="accuracy ×100", color="model")


def passkey_encoder(spec: str, rope_theta: float | None, sliding_window: int | None) -> Encoder:
    """The shared encoder, or with RoPE base / window changed a private copy (the shared one stays as is)."""
    if rope_theta is None and sliding_window is None:
        return get_encoder(spec)
    encoder = load_model(spec)
    apply_long_context(
        encoder, rope_theta=rope_theta, sliding_window=None if sliding_window is None else int(sliding_window)
    )
    return encoder


def passkey_tab() -> None:
    st.caption(
        "Each candidate document is filler text of the given length hiding one person's pass key; the query "
        "asks for one person's key. Top-1 accuracy; long lengths take long on a CPU."
    )
    choices = list(ENCODER_CHOICES)
    current = settings().model
    with st.form("passkey"):
        model = st.selectbox("Model", choices, index=choices.index(current) if current in choices else 0)
        lengths = st.multiselect("Document lengths (tokens)", list(LENGTHS), default=list(LENGTHS[:2]))
        count, seed, rope, window = st.columns(4)
        candidates = count.number_input("Candidates per length", min_value=2, max_value=1000, value=100)
        seed = seed.number_input("Seed", min_value=0, value=0, key="passkey_seed")
        rope_theta = rope.number_input(
            "RoPE base (LLMs)",
            min_value=1.0,
            value=None,
            step=10_000.0,
            placeholder="the model's own",
            help="e.g. 100000 to stretch the context",
        )
        sliding_window = window.number_input(
            "Sliding window (tokens)",
            min_value=1,
            value=None,
            step=256,
            placeholder="the model's own",
            help="attention window, where the architecture has one",
        )
        submitted = st.form_submit_button("Run passkey", type="primary")
    if submitted:
        with readable_errors("The passkey run"):
            if not lengths:
                raise ValueError("pick at least one document length")
            progress = ProgressBar("Generating documents…")
            results = run_passkey(
                passkey_encoder(model, rope_theta, sliding_window),
                sorted(lengths),
                candidates=int(candidates),
                seed=int(seed),
                progress=progress,
            )
            ResultStore().add(results)
            progress.done(f"Done: {len(results)} lengths stored")
            st.session_state["passkey_results"] = results
    if st.session_state.get("passkey_results"):
        show_passkey(st.session_state["passkey_results"])


def history_tab() -> None:
    with readable_errors("Reading the results store"):
        store = ResultStore()
        beir, passkey = store.query(kind="beir", limit=500), store.query(kind="passkey", limit=500)
        if not beir and not passkey:
            st.info(
                "No stored results yet: run a benchmark (here or with `e5 bench beir` / `e5 bench passkey`)."
            )
        if beir:
            st.subheader("BEIR")
            st.dataframe(results_frame(beir), hide_index=True)
        if passkey:
            st.subheader("Passkey")
            st.dataframe(passkey_frame(passkey), hide_index=True)


st.title("Benchmarks")
beir, passkey, history = st.tabs(["BEIR", "Passkey", "History"])
with beir:
    beir_tab()
with passkey:
    passkey_tab()
with history:
    history_tab()
