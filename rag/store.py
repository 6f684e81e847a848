"""SQL metadata of collections (SQLAlchemy 2.x): any database URL works, SQLite by default.

Tables: collections (with index metadata), documents (content hash, mtime, size), chunks (their ids are
the FAISS ids) and an embedding cache keyed by (model, text hash) and shared by all collections.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    insert,
)
from sqlalchemy.engine import Compiled, Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql.expression import Insert

from embedder.sql import open_engine, utcnow

SCHEMA_VERSION = 1
# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere chunk ids are 64-bit like FAISS ids.
Id = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class CollectionRow(Base):
    __tablename__ = "rag_collections"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(512))  # encoder.name: model, template, depth, adapter hash
    dim: Mapped[int] = mapped_column(Integer)
    spec: Mapped[str | None] = mapped_column(String(512), default=None)  # the --model spec, when known
    metric: Mapped[str] = mapped_column(String(16), default="inner_product")
    factory: Mapped[str] = mapped_column(String(128))
    settings: Mapped[dict] = mapped_column(JSON)  # the IndexConfig that determines chunks and vectors
    versions: Mapped[dict] = mapped_column(JSON)
    root: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DocumentRow(Base):
    __tablename__ = "rag_documents"
    __table_args__ = (UniqueConstraint("collection_id", "path"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("rag_collections.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(1024))  # POSIX path relative to the collection's root
    title: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChunkRow(Base):
    __tablename__ = "rag_chunks"
    # Ids are never reused (AUTOINCREMENT in SQLite), so a stale FAISS id can never alias a new chunk.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("rag_documents.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("rag_collections.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))


class EmbeddingRow(Base):
    __tablename__ = "rag_embeddings"

    model: Mapped[str] = mapped_column(String(512), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32


class EncoderRateRow(Base):
    """Measured document-encoding speed per model, for the estimate printed before a run."""

    __tablename__ = "rag_encoder_rates"

    model: Mapped[str] = mapped_column(String(512), primary_key=True)
    tokens_per_second: Mapped[float]
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL (``embedder.sql``'s policy), tables created on first use."""
    return open_engine(url, Base.metadata)


class Reader:
    """One autocommit connection and cursor for the search hot path, shared by threads under a lock.

    A query costs one DBAPI execute on a cursor kept open: no pool checkout and return, no SQLAlchemy
    execution context or row objects. Statements are still SQLAlchemy's, compiled for the engine's
    dialect. Autocommit leaves no transaction open between queries (PostgreSQL locks, SQLite WAL
    snapshots). A failed query closes the connection; the next one reconnects (e.g. after a database
    restart).
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._cursor = None

    def rows(self, statement: Compiled, values: Sequence[Any]) -> list[tuple]:
        """DBAPI rows of ``statement``; ``values`` of its bind parameters in the order they appear in it."""
        args = values if statement.positional else dict(zip(statement.binds, values, strict=True))
        with self._lock:
            cursor = self._cursor or self._connect()
            try:
                cursor.execute(statement.string, args)
                return cursor.fetchall()
            except Exception:
                self._close()
                raise

    def _connect(self):
        self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._connection.detach()  # ours alone: closed, never handed back to the pool
        self._cursor = self._connection.connection.dbapi_connection.cursor()
        return self._cursor

    def _close(self) -> None:
        with suppress(Exception):  # the connection may be dead already
            self._cursor.close()
        self._connection.close()
        self._connection = self._cursor = None


@cache
def reader_for(url: str) -> Reader:
    return Reader(engine_for(url))


def insert_ignore(session: Session, table: type[Base]) -> Insert:
    """An INSERT that skips rows whose key exists (e.g. a vector another run cached meanwhile)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        return insert(table)
    return dialect_insert(table).on_conflict_do_nothing()


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blobs(blobs: list[bytes], dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


def versions() -> dict[str, str | int]:
    """Software versions recorded in a collection's index metadata."""
    import faiss

    try:
        package = importlib.metadata.version("e5-embed")
    except importlib.metadata.PackageNotFoundError:
        package = "unknown"
    return {"schema": SCHEMA_VERSION, "e5-embed": package, "faiss": faiss.__version__}
