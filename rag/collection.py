"""Named collections: one SQL row + one FAISS file each, tied to one encoder, and a lexical index.

SQL is the source of truth (chunk rows and their cached vectors are committed together); the FAISS
file is derived from it. Opening a collection reconciles the two, so a run killed at any point
leaves a collection that opens and searches consistently: a writer (holding the collection lock)
repairs the file, a reader only its copy in memory. The lexical index lives in the database and
changes in the chunk rows' own transactions (``lexical``).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from embedder.protocol import Encoder

from .config import IndexConfig, Workspace, check_collection_name
from .errors import CollectionMismatch, CollectionNotFound, EncoderMismatch, RagError
from .lexical import ensure_lexical, has_lexical
from .store import ChunkRow, CollectionRow, EmbeddingRow, engine_for, from_blobs, versions
from .vectors import VectorIndex, empty_index

FETCH_BATCH = 5_000  # ids per SQL IN (...) clause
ADD_BATCH = 50_000  # vectors per FAISS add; the first batch also trains IVF/PQ indexes


@dataclass
class Collection:
    """An open collection; ``encoder`` is set when opened for indexing or search; ``lexical`` says whether
    its chunks are lexically indexed too (collections built before hybrid search get it on the next index run)."""

    id: int
    name: str
    model: str
    dim: int
    spec: str | None
    config: IndexConfig
    workspace: Workspace
    vectors: VectorIndex
    encoder: Encoder | None = None
    lexical: bool = False

    @property
    def engine(self) -> Engine:
        return engine_for(self.workspace.url)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def chunk_ids(self) -> np.ndarray:
        with self.engine.connect() as conn:
            rows = conn.execute(select(ChunkRow.id).where(ChunkRow.collection_id == self.id)).scalars().all()
        return np.asarray(rows, dtype=np.int64)

    def reconcile(self, *, save: bool = True) -> tuple[int, int]:
        """Make FAISS hold exactly the vectors of the SQL chunk rows; returns (added, removed).

        ``save=False`` (readers, who hold no lock) changes only the index in memory and never rebuilds an
        index that cannot remove vectors (HNSW): its stale ids have no rows, so searches drop them.
        """
        sql_ids, faiss_ids = self.chunk_ids(), self.vectors.ids()
        stale = np.setdiff1d(faiss_ids, sql_ids)
        if len(stale) and not self.vectors.supports_remove:
            if save:
                self.vectors.reset()
                faiss_ids = np.zeros(0, dtype=np.int64)
            else:
                stale = stale[:0]
        elif len(stale):
            self.vectors.remove(stale)
        missing = np.setdiff1d(sql_ids, faiss_ids)
        for start in range(0, len(missing), ADD_BATCH):
            ids = missing[start : start + ADD_BATCH]
            self.vectors.add(ids, self.fetch_vectors(ids))
        if save and (len(missing) or len(stale)):
            self.vectors.save(self.workspace.index_path(self.name))
        return len(missing), len(stale)

    def exists(self) -> bool:
        """Whether the collection's row is still there (another process may have removed it)."""
        with self.engine.connect() as conn:
            return conn.scalar(select(CollectionRow.id).where(CollectionRow.id == self.id)) is not None

    def fetch_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Cached vectors of chunk rows, in the order of ``ids``."""
        found: dict[int, bytes] = {}
        join = and_(EmbeddingRow.model == self.model, EmbeddingRow.text_hash == ChunkRow.text_hash)
        with self.engine.connect() as conn:
            for start in range(0, len(ids), FETCH_BATCH):
                batch = [int(i) for i in ids[start : start + FETCH_BATCH]]
                rows = conn.execute(
                    select(ChunkRow.id, EmbeddingRow.vector)
                    .join(EmbeddingRow, join)
                    .where(ChunkRow.id.in_(batch))
                )
                found.update((int(i), blob) for i, blob in rows)
        missing = [int(i) for i in ids if int(i) not in found]
        if missing:
            raise CollectionMismatch(
                f"collection {self.name!r}: {len(missing)} chunks have no cached vector "
                f"for model {self.model!r} (e.g. chunk {missing[0]}); the database was edited "
                "by hand? `e5 rm` the collection and index it again"
            )
        return from_blobs([found[int(i)] for i in ids], self.dim)


@contextmanager
def collection_lock(name: str, workspace: Workspace) -> Iterator[None]:
    """The right to write collection ``name`` (create, index, remove), one process at a time; a second
    writer fails at once. The OS releases the lock if we are killed.

    ``remove_collection`` deletes the lock file while holding it, so a lock taken on a file that is no
    longer at the path is retried on the new file.
    """
    path = workspace.lock_path(check_collection_name(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RagError(
                    f"collection {name!r} is being indexed by another process; try again later"
                ) from None
            if same_file(handle.fileno(), path):
                yield
                return


def same_file(fd: int, path: str | os.PathLike[str]) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def open_collection(
    name: str, encoder: Encoder | None = None, *, workspace: Workspace | None = None
) -> Collection:
    """Open an existing collection for reading, refusing an encoder other than the one it was built with.

    A reader never writes: vectors the FAISS file lacks (an indexing run under way, or one that was
    killed) are added to the copy in memory; the next writer repairs the file.
    """
    workspace = workspace or Workspace.default()
    check_collection_name(name)
    with Session(engine_for(workspace.url)) as session:
        row = session.scalar(select(CollectionRow).where(CollectionRow.name == name))
        if row is None:
            known = session.scalars(select(CollectionRow.name).order_by(CollectionRow.name)).all()
            hint = (
                f"existing: {', '.join(known)}" if known else "there are no collections yet; run `e5 index`"
            )
            raise CollectionNotFound(f"no collection named {name!r} ({hint})")
    if encoder is not None:
        check_encoder(row, encoder)
    collection = loaded(row, workspace, encoder)
    collection.reconcile(save=False)
    return collection


def open_or_create(
    name: str,
    encoder: Encoder,
    config: IndexConfig | None = None,
    *,
    workspace: Workspace | None = None,
    spec: str | None = None,
) -> Collection:
    """Open a collection for indexing, creating it with ``config`` (or the defaults) if new.

    An existing collection keeps its chunking and index settings; a ``config`` that changes them is refused.
    Creation takes the collection lock, so a concurrent writer gets the lock's message.
    """
    workspace = workspace or Workspace.default()
    with collection_lock(name, workspace):
        return create_or_load(name, encoder, config, workspace, spec)


def create_or_load(
    name: str, encoder: Encoder, config: IndexConfig | None, workspace: Workspace, spec: str | None
) -> Collection:
    with Session(engine_for(workspace.url), expire_on_commit=False) as session:
        row = session.scalar(select(CollectionRow).where(CollectionRow.name == name))
        if row is None:
            config = config or IndexConfig()
            empty_index(
                encoder.dim, config.factory
            )  # an invalid factory string fails before anything is written
            row = CollectionRow(
                name=name,
                model=encoder.name,
                dim=encoder.dim,
                factory=config.factory,
                settings=config.to_dict(),
                versions=versions(),
                spec=spec,
            )
            session.add(row)
            session.commit()
    check_encoder(row, encoder)
    collection = loaded(row, workspace, encoder)
    if config is not None:
        old, new = collection.config.to_dict(), config.to_dict()
        changed = [f"{key}: {old[key]!r} -> {new[key]!r}" for key in old if old[key] != new[key]]
        if changed:
            raise CollectionMismatch(
                f"collection {name!r} was built with other settings ({'; '.join(changed)}); "
                "keep its settings or index into a new collection"
            )
    if not collection.lexical:
        collection.lexical = ensure_lexical(collection.engine, collection.id)
    collection.reconcile()
    return collection


def check_encoder(row: CollectionRow, encoder: Encoder) -> None:
    if row.model != encoder.name or row.dim != encoder.dim:
        how = f" (spec {row.spec!r})" if row.spec else ""
        raise EncoderMismatch(
            f"collection {row.name!r} was built with encoder {row.model!r} ({row.dim}-d){how}; refusing encoder "
            f"{encoder.name!r} ({encoder.dim}-d). Use the same --model, or index into another collection"
        )


def loaded(row: CollectionRow, workspace: Workspace, encoder: Encoder | None) -> Collection:
    config = IndexConfig(**row.settings)
    vectors = VectorIndex.load(workspace.index_path(row.name), row.dim, row.factory)
    with engine_for(workspace.url).connect() as connection:
        lexical = has_lexical(connection, row.id)
    return Collection(
        row.id, row.name, row.model, row.dim, row.spec, config, workspace, vectors, encoder, lexical
    )
