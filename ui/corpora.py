"""BEIR-format folders under the configured data root, loaded once per (folder, split, subset)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from embedder.evaluation.beir import BeirDataset, load_beir, subset


def beir_folders(root: Path) -> list[Path]:
    """Sub-folders of the data root laid out as BEIR datasets."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "corpus.jsonl").is_file() and (p / "qrels").is_dir())


def splits_of(folders: list[Path]) -> list[str]:
    return sorted({q.stem for folder in folders for q in (folder / "qrels").glob("*.tsv")}) or ["test"]


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=8)
def load_dataset(path: str, split: str, max_queries: int | None, max_docs: int | None, seed: int = 0) -> BeirDataset:
    """A (seeded subset of a) BEIR split; shared read-only across sessions (the dataclass is frozen)."""
    return subset(load_beir(path, split), max_queries=max_queries, max_docs=max_docs, seed=seed)


def with_one_query(dataset: BeirDataset, text: str, query_id: str | None = None) -> BeirDataset:
    """The same corpus (so cached document vectors apply) searched with a single query."""
    judged = dataset.qrels.get(query_id, {}) if query_id else {}
    return replace(dataset, queries={query_id or "query": text}, qrels={query_id or "query": judged})
