"""Decide what an indexing run has to do: compare the folder with the stored documents, read and chunk
what changed, and count the tokens left to encode (chunks already in the embedding cache are free).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from tqdm.auto import tqdm

from .chunking import Chunk, TokenSpans, chunk_text
from .collection import Collection
from .config import IndexConfig
from .readers import Unreadable, read_document
from .store import DocumentRow, EmbeddingRow
from .walk import FileEntry, Skipped, WalkResult

FETCH_BATCH = 5_000


@dataclass(frozen=True)
class StoredDoc:
    id: int
    size: int
    mtime_ns: int
    content_hash: str


@dataclass
class PreparedDoc:
    """A new or changed file, read and chunked; ``existing`` is the id of the version it replaces."""

    entry: FileEntry
    title: str
    content_hash: str
    chunks: list[Chunk]
    hashes: list[str]
    existing: int | None = None


@dataclass
class Plan:
    docs: list[PreparedDoc] = field(default_factory=list)
    touched: list[tuple[int, FileEntry]] = field(default_factory=list)  # same text, new mtime or size
    removed: dict[str, int] = field(default_factory=dict)  # path -> document id
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, recoverable problem)
    cached: set[str] = field(default_factory=set)  # chunk hashes already in the embedding cache

    def cached_chunks(self) -> int:
        """Chunks whose vectors are already in the embedding cache."""
        return sum(digest in self.cached for doc in self.docs for digest in doc.hashes)

    def to_encode(self) -> tuple[int, int]:
        """(chunks, tokens) that need the encoder: unique chunk texts not in the cache."""
        seen: dict[str, int] = {}
        for doc in self.docs:
            for chunk, digest in zip(doc.chunks, doc.hashes, strict=True):
                if digest not in self.cached:
                    seen[digest] = chunk.tokens
        return len(seen), sum(seen.values())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored_documents(collection: Collection) -> dict[str, StoredDoc]:
    query = select(
        DocumentRow.path, DocumentRow.id, DocumentRow.size, DocumentRow.mtime_ns, DocumentRow.content_hash
    )
    with collection.engine.connect() as conn:
        rows = conn.execute(query.where(DocumentRow.collection_id == collection.id))
        return {path: StoredDoc(*rest) for path, *rest in rows}


def make_plan(collection: Collection, walk: WalkResult, spans: TokenSpans, *, progress: bool = False) -> Plan:
    """What changed since the last run; files are read and chunked only when size or mtime moved."""
    stored = stored_documents(collection)
    plan = Plan(skipped=list(walk.skipped))
    kept = {s.rel for s in walk.skipped} | {f.rel for f in walk.files}
    folders = tuple(f"{s.rel}/" for s in walk.skipped if s.folder)
    # A file that exists but cannot be indexed now keeps its previous version: nothing indexed is lost.
    plan.removed = {
        path: doc.id for path, doc in stored.items() if path not in kept and not path.startswith(folders)
    }
    for entry in tqdm(walk.files, desc="reading", unit="file", disable=not progress, leave=False):
        old = stored.get(entry.rel)
        if old is not None and (old.size, old.mtime_ns) == (entry.size, entry.mtime_ns):
            plan.unchanged += 1
            continue
        prepared = prepare(entry, spans, collection.config, plan)
        if prepared is None:
            continue
        if old is not None and old.content_hash == prepared.content_hash:
            plan.touched.append((old.id, entry))
            plan.unchanged += 1
            continue
        prepared.existing = old.id if old is not None else None
        plan.docs.append(prepared)
    plan.cached = cached_hashes(collection, {h for doc in plan.docs for h in doc.hashes})
    return plan


def prepare(entry: FileEntry, spans: TokenSpans, config: IndexConfig, plan: Plan) -> PreparedDoc | None:
    """Read and chunk one file; problems go to ``plan.skipped`` / ``plan.notes``."""
    try:
        extracted = read_document(entry.path)
    except Unreadable as err:
        plan.skipped.append(Skipped(entry.rel, str(err)))
        return None
    if extracted.note:
        plan.notes.append((entry.rel, extracted.note))
    chunks = chunk_text(extracted.text, spans, config.chunk_tokens, config.overlap)
    if not chunks:
        plan.skipped.append(Skipped(entry.rel, "contains no text"))
        return None
    return PreparedDoc(
        entry, extracted.title, sha256(extracted.text), chunks, [sha256(c.text) for c in chunks]
    )


def cached_hashes(collection: Collection, hashes: set[str]) -> set[str]:
    """The subset of chunk hashes whose vectors this collection's model already computed."""
    found: set[str] = set()
    wanted = sorted(hashes)
    with collection.engine.connect() as conn:
        for start in range(0, len(wanted), FETCH_BATCH):
            query = select(EmbeddingRow.text_hash).where(
                EmbeddingRow.model == collection.model,
                EmbeddingRow.text_hash.in_(wanted[start : start + FETCH_BATCH]),
            )
            found.update(conn.execute(query).scalars())
    return found
