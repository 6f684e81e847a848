"""Retrieval datasets on disk in BEIR layout: loading with validation, seeded subsets, writing.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
``text``) and ``qrels/<split>.tsv`` (header ``query-id corpus-id score``). Only the queries judged in
the split's qrels are evaluated (SciFact's ``queries.jsonl`` holds every split's queries).

    >>> data = subset(load_beir("shared/data/scifact"), max_queries=50, max_docs=500)
    >>> len(data.queries), len(data.corpus)
    (50, 500)
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from .instructions import WEB_SEARCH, resolve_instruction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BeirDataset:
    """One split of a BEIR dataset. ``corpus`` maps doc id to ``(title, text)``; ``qrels`` maps
    query id to ``{doc id: graded relevance}``; ``subset`` describes how it was cut down, if it was."""

    name: str
    split: str
    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    subset: str | None = None
    dropped_qrels: int = field(default=0, compare=False)

    @property
    def is_subset(self) -> bool:
        return self.subset is not None

    @property
    def label(self) -> str:
        """Name for tables: ``scifact`` or ``scifact [subset 100q/1000d seed 0]``."""
        return f"{self.name} [subset {self.subset}]" if self.subset else self.name

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the corpus in its order (the document-embedding cache key)."""
        digest = hashlib.sha256()
        for doc_id, (title, text) in self.corpus.items():
            digest.update(json.dumps([doc_id, title, text]).encode())
        return digest.hexdigest()[:16]

    def document_texts(self) -> list[str]:
        """Documents as encoded by dense models: ``title text`` (BEIR's convention), no instruction."""
        return [f"{title} {text}".strip() for title, text in self.corpus.values()]

    def default_instruction(self) -> str:
        """The paper's instruction for this dataset (by folder name), else the web-search one."""
        return resolve_instruction(task=self.name, fallback=WEB_SEARCH)


def read_beir_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON-lines file, with the line number in any parse error."""
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from None
            if "_id" not in rows[-1]:
                raise ValueError(f"{path}:{number}: row has no '_id' field")
    return rows


def read_qrels(path: Path) -> list[tuple[str, str, int]]:
    """``(query id, doc id, score)`` rows of a qrels TSV (header row skipped)."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if number == 1 and row and row[0] == "query-id":
                continue
            if len(row) != 3:
                raise ValueError(f"{path}:{number}: expected 3 tab-separated columns, got {len(row)}")
            try:
                rows.append((row[0], row[1], int(row[2])))
            except ValueError:
                raise ValueError(f"{path}:{number}: score {row[2]!r} is not an integer") from None
    return rows


def required_file(folder: Path, relative: str) -> Path:
    path = folder / relative
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a BEIR folder: {relative} is missing")
    return path


def load_beir(path: str | Path, split: str = "test") -> BeirDataset:
    """Load one split of a BEIR folder. Empty documents are skipped; qrels rows naming unknown (or
    empty) queries or documents are dropped, counted in ``dropped_qrels`` and logged (ArguAna has five)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"BEIR folder {folder} does not exist")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise FileNotFoundError(
            f"{folder} has no qrels/{split}.tsv (splits found: {', '.join(found) or 'none'})"
        )
    corpus = {
        str(r["_id"]): (r.get("title") or "", r.get("text") or "")
        for r in read_beir_jsonl(required_file(folder, "corpus.jsonl"))
    }
    empty = [doc_id for doc_id, (title, text) in corpus.items() if not f"{title}{text}".strip()]
    for doc_id in empty:
        del corpus[doc_id]
    all_queries = {
        str(r["_id"]): r.get("text") or "" for r in read_beir_jsonl(required_file(folder, "queries.jsonl"))
    }
    qrels: dict[str, dict[str, int]] = {}
    dropped = 0
    for query_id, doc_id, score in read_qrels(qrels_path):
        if not all_queries.get(query_id, "").strip() or doc_id not in corpus:
            dropped += 1
            continue
        qrels.setdefault(query_id, {})[doc_id] = score
    if empty or dropped:
        log.warning(
            "%s: skipped %d empty documents and %d qrels rows naming unknown queries/documents",
            folder.name,
            len(empty),
            dropped,
        )
    if not qrels:
        raise ValueError(f"{qrels_path} has no usable judgements")
    queries = {query_id: all_queries[query_id] for query_id in qrels}
    return BeirDataset(folder.name, split, corpus, queries, qrels, dropped_qrels=dropped)


def save_beir(dataset: BeirDataset, folder: str | Path) -> Path:
    """Write a dataset (e.g. a subset) as a BEIR folder that ``load_beir`` and mteb can read."""
    folder = Path(folder).expanduser()
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for doc_id, (title, text) in dataset.corpus.items():
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for query_id, text in dataset.queries.items():
            out.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    with (folder / "qrels" / f"{dataset.split}.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{q}\t{d}\t{s}\n" for q, docs in dataset.qrels.items() for d, s in docs.items())
    return folder


def subset(
    dataset: BeirDataset,
    max_queries: int | None = None,
    max_docs: int | None = None,
    seed: int = 0,
    query_ids: list[str] | None = None,
) -> BeirDataset:
    """A seeded random subset: ``max_queries`` judged queries (or exactly ``query_ids``), every document
    relevant to them, and random other documents up to ``max_docs`` (more if the relevant ones exceed it)."""
    if max_queries is None and max_docs is None and query_ids is None:
        return dataset
    for knob, value in (("max_queries", max_queries), ("max_docs", max_docs)):
        if value is not None and value < 1:
            raise ValueError(f"{knob} must be positive, got {value}")
    unknown = sorted(set(query_ids or ()) - set(dataset.queries))
    if unknown:
        raise ValueError(
            f"{len(unknown)} query ids are not judged in {dataset.name}/{dataset.split}, e.g. {unknown[0]!r}"
        )
    rng = random.Random(seed)
    query_ids = sorted(query_ids or dataset.queries)
    if max_queries is not None and max_queries < len(query_ids):
        query_ids = sorted(rng.sample(query_ids, max_queries))
    relevant = {doc_id for q in query_ids for doc_id in dataset.qrels[q]}
    others = sorted(set(dataset.corpus) - relevant)
    room = len(others) if max_docs is None else max(0, max_docs - len(relevant))
    keep = relevant | set(rng.sample(others, min(room, len(others))))
    corpus = {doc_id: doc for doc_id, doc in dataset.corpus.items() if doc_id in keep}
    description = f"{len(query_ids)}q/{len(corpus)}d seed {seed}"
    return replace(
        dataset,
        corpus=corpus,
        queries={q: dataset.queries[q] for q in query_ids},
        qrels={q: dataset.qrels[q] for q in query_ids},
        subset=description,
    )


def sized_subset(
    dataset: BeirDataset, max_docs: int, max_queries: int | None = None, seed: int = 0
) -> BeirDataset:
    """A seeded subset of exactly ``max_docs`` documents (all of them if the corpus is smaller): judged
    queries are kept, in seeded order, only while their relevant documents fit in half of it."""
    if max_docs < 1:
        raise ValueError(f"max_docs must be positive, got {max_docs}")
    order = sorted(dataset.queries)
    random.Random(seed).shuffle(order)
    kept: list[str] = []
    relevant: set[str] = set()
    for query_id in order:
        needed = relevant | set(dataset.qrels[query_id])
        if len(needed) <= max(1, max_docs // 2) and (max_queries is None or len(kept) < max_queries):
            kept.append(query_id)
            relevant = needed
    if not kept:
        raise ValueError(
            f"no judged query of {dataset.name} has its relevant documents within {max_docs} documents"
        )
    return subset(dataset, max_docs=max_docs, seed=seed, query_ids=kept)
