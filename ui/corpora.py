"""BEIR-format folders under the configured data root, loaded once per (folder, split, size, seed)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from embedder.datasets import BeirDataset, load_beir, sized_subset


def beir_folders(root: Path) -> list[Path]:
    """Sub-folders of the data root laid out as BEIR datasets."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "corpus.jsonl").is_file() and (p / "qrels").is_dir())


def splits_of(folders: list[Path]) -> list[str]:
    return sorted({q.stem for folder in folders for q in (folder / "qrels").glob("*.tsv")}) or ["test"]


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=8)
def load_dataset(path: str, split: str, max_queries: int, max_docs: int, seed: int = 0) -> BeirDataset:
    """A seeded subset of exactly ``max_docs`` documents (``sized_subset``); shared read-only across
    sessions (the dataclass is frozen)."""
    return sized_subset(load_beir(path, split), max_docs, max_queries=max_queries, seed=seed)
