"""Compare: one query through several encoders over the same corpus, side by side.

Retrieval is ``embedder.evaluation``'s (exact FAISS search, document vectors cached on disk per model
and corpus, BM25 via bm25s), so the corpus is encoded once per model and later queries are instant.
"""

from __future__ import annotations

import time

import streamlit as st

from embedder.evaluation.retrieval import as_retriever
from embedder.instructions import DEFAULT_TASK, TASKS
from ui.agreement import found_by, overlap_table, top_ids
from ui.corpora import beir_folders, load_dataset, splits_of, with_one_query
from ui.resources import MODEL_CHOICES, get_models
from ui.session import config, settings
from ui.widgets import ProgressBar, instruction_picker, readable_errors

OWN_QUERY = "__own__"


def compare(dataset, models: list, query: str, query_id: str | None, instruction: str, k: int) -> dict:
    """Each model's top-k doc ids and scores for the query, with its wall time."""
    one = with_one_query(dataset, query, query_id)
    progress = ProgressBar("Comparing…")
    runs = {}
    for model in models:
        label = model.name

        def report(stage: str, done: int, total: int, label: str = label) -> None:
            progress(f"{label}: {stage}", done, total)

        retriever = as_retriever(model, progress=report)
        started = time.perf_counter()
        run = next(iter(retriever.search(one, instruction if retriever.name != "bm25" else "", k).values()))
        runs[label] = {"ids": top_ids(run, k), "scores": run, "wall_s": time.perf_counter() - started}
    progress.done(f"Compared {len(runs)} encoders")
    return runs


def show_column(column, name: str, result: dict, dataset, owners: dict, relevant: dict, models: int) -> None:
    column.subheader(name)
    column.caption(f"{result['wall_s']:.2f}s (includes encoding the corpus the first time)")
    for rank, doc_id in enumerate(result["ids"], 1):
        title, text = dataset.corpus[doc_id]
        marks = (" ✔ all" if len(owners[doc_id]) == models else "") + (" ★ relevant" if doc_id in relevant else "")
        column.markdown(f"**{rank}.** `{result['scores'][doc_id]:.3f}` **{title or doc_id}**{marks}  \n"
                        f"{text[:180]}{'…' if len(text) > 180 else ''}")


def show_comparison(state: dict) -> None:
    rankings = {name: result["ids"] for name, result in state["runs"].items()}
    owners = found_by(rankings)
    st.markdown(f"**Query:** {state['query']}")
    st.caption("✔ all: returned by every encoder · ★ relevant: judged relevant in the dataset's qrels")
    for column, (name, result) in zip(st.columns(len(rankings)), state["runs"].items()):
        show_column(column, name, result, state["dataset"], owners, state["relevant"], len(rankings))
    st.subheader("Agreement: share of top-k results in common")
    st.dataframe(overlap_table(rankings).style.format("{:.0%}"))


st.title("Compare encoders")
folders = beir_folders(config().data_root)
if not folders:
    st.warning(f"No BEIR-format folders under {config().data_root}: set E5_UI_DATA_ROOT to a folder of corpora.")
    st.stop()
corpus_col, size_col = st.columns([2, 1])
name = corpus_col.selectbox("Corpus", [f.name for f in folders])
folder = config().data_root / name
max_docs = size_col.number_input("Documents (seeded subset)", min_value=10, value=1000, step=100)
split = "test" if "test" in splits_of([folder]) else splits_of([folder])[0]
dataset = None
with readable_errors("Loading the corpus"):
    dataset = load_dataset(str(folder), split, 50, int(max_docs))
if dataset is None:
    st.stop()
query_id = st.selectbox("Query", [*dataset.queries, OWN_QUERY],
                        format_func=lambda q: "type your own…" if q == OWN_QUERY else dataset.queries[q])
query = st.text_input("Your query", key="compare_query") if query_id == OWN_QUERY else dataset.queries[query_id]
instruction = instruction_picker(f"compare_{name}", name if name in TASKS else DEFAULT_TASK)  # per corpus
chosen = st.multiselect("Encoders", MODEL_CHOICES, default=[m for m in (settings().model, "bm25") if m in MODEL_CHOICES])
extra = st.text_input("Other encoder specs, comma-separated", placeholder="openai:text-embedding-3-small")
k = st.slider("Top k", min_value=3, max_value=20, value=5)

if st.button("Compare", type="primary"):
    specs = chosen + [s.strip() for s in extra.split(",") if s.strip()]
    with readable_errors("The comparison"):
        if not query.strip() or not instruction or len(specs) < 1:
            raise ValueError("enter a query and an instruction, and pick at least one encoder")
        runs = compare(dataset, get_models(specs), query, None if query_id == OWN_QUERY else query_id,
                       instruction, k)
        relevant = dataset.qrels.get(query_id, {}) if query_id != OWN_QUERY else {}
        st.session_state["comparison"] = {"runs": runs, "query": query, "dataset": dataset, "relevant": relevant}
if "comparison" in st.session_state:
    show_comparison(st.session_state["comparison"])
