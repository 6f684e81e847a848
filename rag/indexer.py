"""Index a folder incrementally: walk, plan, encode what is new in batches, commit, sync FAISS.

Each batch commits its new cached vectors, documents and chunks in one transaction, so a run killed
at any point leaves every file either at its old version or fully at its new one; FAISS is brought
in line with SQL at the end of the run (and on every open), then written atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session
from tqdm.auto import tqdm

from embedder.protocol import Encoder, surrogate_at

from .chunking import Chunk, spans_for
from .collection import Collection, collection_lock, open_or_create
from .config import IndexConfig, ScanConfig, Workspace
from .errors import RagError
from .plan import Plan, PreparedDoc, make_plan
from .store import (
    ChunkRow,
    CollectionRow,
    DocumentRow,
    EmbeddingRow,
    EncoderRateRow,
    insert_ignore,
    to_blob,
    utcnow,
)
from .walk import FileEntry, Skipped, WalkResult, printable, walk_folder

BATCH_CHUNKS = 64  # chunks per encoder call and per transaction
PROBE_CHUNKS = 8  # first batch when the model's speed is unknown: measured, then the ETA is printed

Progress = Callable[[str, int, int], None]  # (stage, done, total), as the evaluation functions report it


@dataclass
class IndexReport:
    collection: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # hidden folders left out (ScanConfig.include_hidden)
    notes: list[tuple[str, str]] = field(default_factory=list)
    chunks_encoded: int = 0
    chunks_cached: int = 0  # vectors already stored before this run (same text, same model)
    chunks_repeated: int = 0  # the same text as another chunk of this run, encoded once
    tokens_encoded: int = 0
    encode_seconds: float = 0.0
    seconds: float = 0.0
    index_note: str | None = None  # e.g. searching exactly until the FAISS index can be trained

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        note = f"\n{self.index_note}" if self.index_note else ""
        if not self.changed_anything:
            return f"{self.collection}: no changes ({self.unchanged} files unchanged){note}"
        rate = (
            f", {self.tokens_encoded / self.encode_seconds:,.0f} tokens/s" if self.encode_seconds > 0 else ""
        )
        chunks = self.chunks_encoded + self.chunks_cached + self.chunks_repeated
        repeated = f", {self.chunks_repeated} repeats of another chunk" if self.chunks_repeated else ""
        return (
            f"{self.collection}: {len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged; {chunks} new chunks: {self.chunks_encoded} encoded, "
            f"{self.chunks_cached} from cache{repeated}{rate}; {self.seconds:.1f}s{note}"
        )


def index_folder(
    root: Path | str,
    encoder: Encoder,
    *,
    collection: str | None = None,
    config: IndexConfig | None = None,
    scan: ScanConfig | None = None,
    workspace: Workspace | None = None,
    spec: str | None = None,
    batch_chunks: int = BATCH_CHUNKS,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    on_progress: Progress | None = None,
) -> IndexReport:
    """Index (or update) a collection from a folder; the collection name defaults to the folder's name.

    ``config`` fixes chunking and the FAISS index when the collection is created (an existing one keeps
    its own); ``scan`` chooses the files of this run. ``echo`` receives the up-front estimate and
    ``on_progress(stage, done, total)`` the chunks encoded so far (for a UI's progress bar).
    """
    root = check_root(root)
    coll = open_or_create(collection or root.name, encoder, config, workspace=workspace, spec=spec)
    walk = walk_folder(root, scan or ScanConfig())
    report = index_files(
        coll, root, walk, batch_chunks=batch_chunks, progress=progress, echo=echo, on_progress=on_progress
    )
    report.hidden = list(walk.hidden)
    return report


def check_root(root: Path | str) -> Path:
    path = Path(root).expanduser()
    if surrogate_at(str(path)) is not None:
        raise RagError(f"the folder path {printable(str(path))} is not valid UTF-8; rename it to index it")
    if not path.exists():
        raise RagError(f"{path} does not exist")
    if not path.is_dir():
        raise RagError(f"{path} is a file, not a folder; index the folder that contains it")
    return path.resolve()


def index_files(
    coll: Collection,
    root: Path,
    walk: WalkResult,
    *,
    batch_chunks: int = BATCH_CHUNKS,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    on_progress: Progress | None = None,
) -> IndexReport:
    """Bring the collection in line with the files of ``walk`` (found below ``root``)."""
    echo = echo or (lambda _message: None)
    started = time.perf_counter()
    with collection_lock(coll.name, coll.workspace):
        if not coll.exists():
            raise RagError(
                f"collection {coll.name!r} was removed by another process; index again to create it"
            )
        plan = make_plan(coll, walk, spans_for(coll.encoder), progress=progress)
        report = IndexReport(
            coll.name,
            removed=sorted(plan.removed),
            unchanged=plan.unchanged,
            skipped=plan.skipped,
            notes=plan.notes,
        )
        for doc in plan.docs:
            (report.changed if doc.existing else report.added).append(doc.entry.rel)
        apply_removals_and_touches(coll, plan)
        encode_and_commit(
            coll,
            plan,
            report,
            batch_chunks,
            progress=progress,
            echo=echo,
            on_progress=on_progress or (lambda _stage, _done, _total: None),
        )
        with coll.session() as session, session.begin():
            session.execute(
                update(CollectionRow)
                .where(CollectionRow.id == coll.id)
                .values(root=str(root), updated=utcnow())
            )
        coll.reconcile()
    report.index_note = coll.vectors.untrained_note()
    report.seconds = time.perf_counter() - started
    return report


def apply_removals_and_touches(coll: Collection, plan: Plan) -> None:
    """Delete documents gone from the folder; record the new mtime of files whose text did not change."""
    with coll.session() as session, session.begin():
        ids = list(plan.removed.values())
        for start in range(0, len(ids), 1000):
            batch = ids[start : start + 1000]
            session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(batch)))
            session.execute(delete(DocumentRow).where(DocumentRow.id.in_(batch)))
        for doc_id, entry in plan.touched:
            session.execute(
                update(DocumentRow)
                .where(DocumentRow.id == doc_id)
                .values(size=entry.size, mtime_ns=entry.mtime_ns)
            )


def encode_and_commit(
    coll: Collection,
    plan: Plan,
    report: IndexReport,
    batch_chunks: int,
    *,
    progress: bool,
    echo: Callable[[str], None],
    on_progress: Progress,
) -> None:
    """Encode uncached chunks batch by batch; each batch of files is committed in one transaction."""
    total_chunks, total_tokens = plan.to_encode()
    rate = known_rate(coll)
    if total_chunks:
        echo(estimate(len(plan.docs), total_chunks, total_tokens, plan.cached_chunks(), rate))
    known = set(plan.cached)
    bar = tqdm(
        total=total_tokens,
        unit="tok",
        unit_scale=True,
        desc=f"indexing {coll.name}",
        disable=not progress or not total_tokens,
        dynamic_ncols=True,
    )
    first = PROBE_CHUNKS if rate is None else batch_chunks
    done = 0
    with bar:
        for group in batches(plan.docs, known, first, batch_chunks):
            fresh = new_chunks(group, known)
            tick = time.perf_counter()
            vectors = coll.encoder.encode_documents([c.text for c in fresh.values()]) if fresh else []
            report.encode_seconds += time.perf_counter() - tick
            commit_group(coll, group, dict(zip(fresh, vectors, strict=True)))
            known.update(fresh)
            tokens = sum(chunk.tokens for chunk in fresh.values())
            report.chunks_encoded += len(fresh)
            report.tokens_encoded += tokens
            done += len(group)
            bar.update(tokens)
            bar.set_postfix(
                files=f"{done}/{len(plan.docs)}", chunks=f"{report.chunks_encoded}/{total_chunks}"
            )
            on_progress(f"encoding chunks of {len(plan.docs)} files", report.chunks_encoded, total_chunks)
            if rate is None and report.tokens_encoded and report.encode_seconds > 0:
                rate = report.tokens_encoded / report.encode_seconds
                echo(estimate(len(plan.docs), total_chunks, total_tokens, plan.cached_chunks(), rate))
    report.chunks_cached = plan.cached_chunks()
    report.chunks_repeated = (
        sum(len(doc.chunks) for doc in plan.docs) - report.chunks_encoded - report.chunks_cached
    )
    if report.encode_seconds > 0.5:
        save_rate(coll, report.tokens_encoded / report.encode_seconds)


def batches(docs: list[PreparedDoc], known: set[str], first: int, size: int) -> Iterator[list[PreparedDoc]]:
    """Consecutive groups of documents holding about ``size`` chunks to encode (``first`` for the first)."""
    group: list[PreparedDoc] = []
    pending: set[str] = set()
    target = first
    for doc in docs:
        group.append(doc)
        pending.update(h for h in doc.hashes if h not in known)
        if len(pending) >= target:
            yield group
            group, pending, target = [], set(), size
    if group:
        yield group


def new_chunks(group: list[PreparedDoc], known: set[str]) -> dict[str, Chunk]:
    """Chunks of a group whose text is not encoded yet, one per unique text, by hash."""
    fresh: dict[str, Chunk] = {}
    for doc in group:
        for chunk, digest in zip(doc.chunks, doc.hashes, strict=True):
            if digest not in known:
                fresh.setdefault(digest, chunk)
    return fresh


def commit_group(coll: Collection, group: list[PreparedDoc], vectors: dict) -> None:
    """New vectors, documents and chunks of a group: all of it or none of it."""
    with coll.session() as session, session.begin():
        if vectors:
            rows = [{"model": coll.model, "text_hash": h, "vector": to_blob(v)} for h, v in vectors.items()]
            session.execute(insert_ignore(session, EmbeddingRow), rows)
        for doc in group:
            doc_id = upsert_document(session, coll.id, doc)
            session.execute(
                insert(ChunkRow),
                [
                    {
                        "document_id": doc_id,
                        "collection_id": coll.id,
                        "ordinal": c.ordinal,
                        "char_start": c.start,
                        "char_end": c.end,
                        "text": c.text,
                        "text_hash": h,
                    }
                    for c, h in zip(doc.chunks, doc.hashes, strict=True)
                ],
            )


def upsert_document(session: Session, collection_id: int, doc: PreparedDoc) -> int:
    entry: FileEntry = doc.entry
    values = {
        "title": doc.title,
        "content_hash": doc.content_hash,
        "size": entry.size,
        "mtime_ns": entry.mtime_ns,
        "indexed_at": utcnow(),
    }
    if doc.existing is not None:
        session.execute(delete(ChunkRow).where(ChunkRow.document_id == doc.existing))
        session.execute(update(DocumentRow).where(DocumentRow.id == doc.existing).values(**values))
        return doc.existing
    row = DocumentRow(collection_id=collection_id, path=entry.rel, **values)
    session.add(row)
    session.flush()
    return row.id


def known_rate(coll: Collection) -> float | None:
    with coll.engine.connect() as conn:
        return conn.scalar(select(EncoderRateRow.tokens_per_second).where(EncoderRateRow.model == coll.model))


def save_rate(coll: Collection, rate: float) -> None:
    with coll.session() as session, session.begin():
        session.merge(EncoderRateRow(model=coll.model, tokens_per_second=rate))


def estimate(files: int, chunks: int, tokens: int, cached: int, rate: float | None) -> str:
    head = f"{files} files to index: {chunks:,} chunks ({tokens:,} tokens) to encode, {cached:,} chunks from cache"
    if rate is None:
        return f"{head}; measuring the encoder's speed on the first {PROBE_CHUNKS} chunks"
    return f"{head}; about {format_seconds(tokens / rate)} at {rate:,.0f} tokens/s"


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
