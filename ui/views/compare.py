"""Compare: one query through several retrievers over the same corpus, side by side
(``embedder.evaluation.query.compare_query``, as ``e5 compare-query``).

The corpus is a seeded subset of exactly the size asked; the page says before the run how many documents
each encoder has to encode (none when its vectors are cached). A run reports progress after every small
batch, which is where it stops when Cancel is pressed or the browser tab is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from embedder.evaluation.agreement import found_by, overlap_table
from embedder.evaluation.query import QueryRun, compare_query, no_hit_reason, pending_documents
from embedder.instructions import DEFAULT_TASK, TASKS
from ui.corpora import beir_folders, load_dataset, splits_of
from ui.hits import escape_markdown
from ui.resources import MODEL_CHOICES, get_models
from ui.session import config
from ui.widgets import ProgressBar, instruction_picker, readable_errors

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

    from embedder.datasets import BeirDataset

OWN_QUERY = "__own__"
QUICK_MODELS = ("minilm", "bm25")  # the quickest neural encoder and the lexical baseline
RESULT_KEY, CANCEL_KEY = "comparison", "compare_cancel"


def plan_text(pending: dict[str, int | None], documents: int) -> str:
    """What a run will do, per model: encode the corpus, use cached vectors, or build a lexical index."""

    def what(count: int | None) -> str:
        if count is None:
            return "lexical index, nothing to encode"
        return (
            f"encodes {count:,} documents, then the query"
            if count
            else "cached vectors, encodes the query only"
        )

    return (
        f"Corpus: {documents:,} documents. "
        + "; ".join(f"{name}: {what(n)}" for name, n in pending.items())
        + "."
    )


def run_caption(run: QueryRun, documents: int) -> str:
    """Wall time and what it covered, truthfully: cached vectors, encoding, or a lexical index."""
    if run.lexical:
        return f"{run.wall_s:.2f}s · BM25 over {documents:,} documents"
    if run.encoded_docs:
        return (
            f"{run.wall_s:.2f}s · encoded {run.encoded_docs:,} documents and the query (cached for next time)"
        )
    return f"{run.wall_s:.2f}s · cached document vectors, encoded the query only"


def show_column(column: DeltaGenerator, run: QueryRun, state: dict, owners: dict) -> None:
    column.subheader(run.model)
    column.caption(run_caption(run, len(state["dataset"].corpus)))
    if not run.ids:
        column.info(no_hit_reason(run).capitalize() + ".")
    for rank, doc_id in enumerate(run.ids, 1):
        title, text = state["dataset"].corpus[doc_id]
        marks = (" ✔ all" if len(owners[doc_id]) == len(state["runs"]) else "") + (
            " ★ relevant" if doc_id in state["relevant"] else ""
        )
        score = f"BM25 {run.scores[doc_id]:.1f}" if run.lexical else f"cosine {run.scores[doc_id]:.3f}"
        snippet = text[:180] + ("…" if len(text) > 180 else "")
        column.markdown(
            f"**{rank}.** {score} · **{escape_markdown(title or doc_id)}**{marks}  \n"
            f"{escape_markdown(snippet)}"
        )


def show_comparison(state: dict) -> None:
    rankings = {run.model: run.ids for run in state["runs"]}
    owners = found_by(rankings)
    st.markdown(f"**Query:** {escape_markdown(state['query'])}")
    st.caption(
        "Rank, then the retriever's own score (cosine similarity for encoders, BM25 for bm25; the scales "
        "differ) · ✔ all: returned by every retriever · ★ relevant: judged relevant in the dataset's qrels"
    )
    for column, run in zip(st.columns(len(state["runs"])), state["runs"], strict=True):
        show_column(column, run, state, owners)
    st.subheader("Agreement: share of top-k results in common")
    st.dataframe(pd.DataFrame(overlap_table(rankings)).style.format("{:.0%}"))


def run_comparison(
    dataset: BeirDataset, models: list, query: str, query_id: str | None, instruction: str, k: int
) -> None:
    """Run with a progress bar and a Cancel button (pressing it, or closing the tab, stops the run at its
    next progress report)."""
    st.button("Cancel", key=CANCEL_KEY, icon=":material/cancel:")
    progress = ProgressBar("Comparing…")
    runs = compare_query(dataset, models, query, instruction, k=k, query_id=query_id, progress=progress)
    progress.done(f"Compared {len(runs)} retrievers")
    st.session_state[RESULT_KEY] = {
        "runs": runs,
        "query": query,
        "dataset": dataset,
        "relevant": dataset.qrels.get(query_id, {}) if query_id else {},
    }
    st.rerun()  # redraw without the Cancel button


st.title("Compare retrievers")
folders = beir_folders(config().data_root)
if not folders:
    st.warning(
        f"No BEIR-format folders under {config().data_root}: set E5_UI_DATA_ROOT to a folder of corpora."
    )
    st.stop()
corpus_col, size_col = st.columns([2, 1])
name = corpus_col.selectbox("Corpus", [f.name for f in folders])
folder = config().data_root / name
max_docs = size_col.number_input(
    "Documents (seeded subset, exactly this many)", min_value=10, value=200, step=100
)
split = "test" if "test" in splits_of([folder]) else splits_of([folder])[0]
dataset = None
with readable_errors("Loading the corpus"):
    dataset = load_dataset(str(folder), split, 50, int(max_docs))
if dataset is None:
    st.stop()
query_id = st.selectbox(
    "Query",
    [*dataset.queries, OWN_QUERY],
    format_func=lambda q: "type your own…" if q == OWN_QUERY else dataset.queries[q],
)
query = (
    st.text_input("Your query", key="compare_query") if query_id == OWN_QUERY else dataset.queries[query_id]
)
instruction = instruction_picker(f"compare_{name}", name if name in TASKS else DEFAULT_TASK)  # per corpus
chosen = st.multiselect(
    "Retrievers",
    MODEL_CHOICES,
    default=[m for m in QUICK_MODELS if m in MODEL_CHOICES],
    help="minilm and bm25 are the quickest; the LLM encoders take minutes per 1,000 "
    "documents on a CPU the first time (their vectors are cached afterwards).",
)
extra = st.text_input("Other encoder specs, comma-separated", placeholder="openai:text-embedding-3-small")
k = st.slider("Top k", min_value=3, max_value=20, value=5)
specs = chosen + [s.strip() for s in extra.split(",") if s.strip()]
models = []
with readable_errors("Loading the encoders"):
    models = get_models(specs)
    st.caption(plan_text(pending_documents(models, dataset), len(dataset.corpus)))

if st.session_state.get(CANCEL_KEY):
    st.session_state.pop(RESULT_KEY, None)
    st.info(
        "Comparison cancelled: nothing was compared. Document vectors are cached only when an encoder "
        "finishes the corpus.",
        icon=":material/cancel:",
    )
if st.button("Compare", type="primary"):
    with readable_errors("The comparison"):
        if not specs:
            raise ValueError("pick at least one retriever")
        run_comparison(dataset, models, query, None if query_id == OWN_QUERY else query_id, instruction, k)
if RESULT_KEY in st.session_state:
    show_comparison(st.session_state[RESULT_KEY])
