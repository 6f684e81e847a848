"""SQL engines for the project's stores (collections, synthetic data, benchmark results): one policy.

SQLite gets foreign keys, WAL (readers never block the writer), a 30 s busy timeout (a second writer
waits instead of failing) and memory-mapped reads; other databases get pre-ping (a dropped connection is
replaced, not raised).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_MMAP_BYTES = 1 << 30  # reads map the file (address space only): no read() call per page of a search
SQLITE_BUSY_MS = 30_000


def utcnow() -> datetime:
    """Now, timezone-aware UTC (the timestamp of every stored row)."""
    return datetime.now(timezone.utc)


def open_engine(url: str, metadata: MetaData | None = None) -> Engine:
    """An engine on ``url`` with the project's connection policy; ``metadata``'s tables created if missing."""
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if metadata is not None:
        metadata.create_all(engine)
    return engine


def sqlite_pragmas(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()
