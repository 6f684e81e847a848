"""Indexing throughput: the whole pipeline (walk, read, chunk, encode, SQL, FAISS) vs pure encoding.

Indexes a small corpus into a fresh collection and encodes exactly the same chunk texts with the
same encoder in one call (the best case: nothing but the model), once before and once after the
pipeline run, so that drifting machine load affects both sides alike. Overhead = pipeline / mean
encoding - 1 (target <= 10%). The model's speed is already known to the database (as after any
first run), so the pipeline encodes in its normal batches, without the first run's small probe batch.
Also times a no-op re-run, and a re-run over an unchanged folder of many small files.

    python bench/index.py [--model default] [--corpus docs|scifact] [--docs 30] [--noop-files 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from embedder.protocol import Encoder
from embedder.registry import load_encoder
from rag.chunking import chunk_text, spans_for
from rag.config import IndexConfig, Workspace
from rag.demo import REPO_ROOT, demo_files
from rag.indexer import index_folder
from rag.readers import read_document
from rag.walk import walk_folder

SCIFACT = REPO_ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"


def write_corpus(kind: str, docs: int, folder: Path) -> None:
    """The repository's docs, or the first ``docs`` SciFact abstracts, as files in ``folder``."""
    folder.mkdir(parents=True)
    if kind == "docs":
        for entry in demo_files().files:
            target = folder / entry.rel.replace("/", "__")
            target.write_text(entry.path.read_text(encoding="utf-8"), encoding="utf-8")
        return
    with SCIFACT.open(encoding="utf-8") as lines:
        for _, line in zip(range(docs), lines, strict=False):
            row = json.loads(line)
            (folder / f"{row['_id']}.md").write_text(f"# {row['title']}\n\n{row['text']}\n", encoding="utf-8")


def chunk_texts(folder: Path, encoder: Encoder) -> list[str]:
    """The unique chunk texts an indexing run of ``folder`` will encode, in order."""
    config = IndexConfig()
    texts = []
    for entry in walk_folder(folder).files:
        text = read_document(entry.path).text
        texts += [c.text for c in chunk_text(text, spans_for(encoder), config.chunk_tokens, config.overlap)]
    return list(dict.fromkeys(texts))


def timed(function: Callable[..., object], *args: object, **kwargs: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def bench_pipeline(args: argparse.Namespace, tmp: Path) -> None:
    encoder = load_encoder(args.model)
    folder, workspace = tmp / "corpus", Workspace(f"sqlite:///{tmp / 'rag.db'}", tmp / "indexes")
    write_corpus(args.corpus, args.docs, folder)
    texts = chunk_texts(folder, encoder)
    # A first run per model and database encodes a small probe batch to print the ETA; pay it here.
    (tmp / "warm-up").mkdir()
    (tmp / "warm-up" / "note.txt").write_text("warm-up text for the model and the speed estimate")
    index_folder(tmp / "warm-up", encoder, workspace=workspace, progress=False)
    before, _ = timed(encoder.encode_documents, texts)
    pipeline, report = timed(
        index_folder, folder, encoder, collection="bench", workspace=workspace, progress=False
    )
    after, _ = timed(encoder.encode_documents, texts)
    noop, again = timed(
        index_folder, folder, encoder, collection="bench", workspace=workspace, progress=False
    )
    assert report.chunks_encoded == len(texts), "the pipeline encoded other chunks than the reference"
    encoding, tokens = (before + after) / 2, report.tokens_encoded
    print(
        f"model {encoder.name}; corpus {args.corpus}: {len(report.added)} files, {len(texts)} chunks, "
        f"{tokens:,} tokens"
    )
    print(f"pipeline (walk+read+chunk+encode+SQL+FAISS): {pipeline:8.1f} s  {tokens / pipeline:8.1f} tok/s")
    print(
        f"pure encoding of the same chunks, before/after: {before:.1f} s / {after:.1f} s  "
        f"{tokens / encoding:8.1f} tok/s"
    )
    print(f"pipeline overhead: {100 * (pipeline / encoding - 1):+.1f}% (target <= 10%)")
    print(f"no-op re-run: {noop:.2f} s ({again.summary()})")


def bench_unchanged_folder(files: int, tmp: Path) -> None:
    """A re-run over ``files`` unchanged small files (hash model: the model does not matter here)."""
    folder, workspace = tmp / "many", Workspace(f"sqlite:///{tmp / 'many.db'}", tmp / "many-indexes")
    for i in range(files):
        part = folder / f"d{i // 1000:02d}"
        part.mkdir(parents=True, exist_ok=True)
        (part / f"note{i:05d}.txt").write_text(f"note {i} about topic {i % 97} and item {i % 13}")
    encoder = load_encoder("hash")
    first, _ = timed(index_folder, folder, encoder, collection="many", workspace=workspace, progress=False)
    rerun, report = timed(
        index_folder, folder, encoder, collection="many", workspace=workspace, progress=False
    )
    print(
        f"{files:,} small files: first index {first:.1f} s (hash model); unchanged re-run {rerun:.2f} s "
        f"({report.summary()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model spec (see `e5 models`)")
    parser.add_argument("--corpus", choices=["docs", "scifact"], default="docs")
    parser.add_argument("--docs", type=int, default=30, help="SciFact abstracts to index")
    parser.add_argument(
        "--noop-files", type=int, default=0, help="also time an unchanged re-run over N files"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_pipeline(args, Path(tmp))
        if args.noop_files:
            bench_unchanged_folder(args.noop_files, Path(tmp))


if __name__ == "__main__":
    main()
