"""The lexical index of a collection, kept by its SQL database in the same transactions as the chunk rows.

SQLite: one FTS5 table per collection (``porter unicode61`` tokenizer, BM25 scoring with the
collection's own term statistics), an external-content table over a view of the collection's chunks,
filled by triggers on ``rag_chunks``. PostgreSQL: a generated ``tsvector`` column on ``rag_chunks``
(English stemming and stopwords) with a GIN index, ranked by ``ts_rank`` (no corpus statistics).
Either way an insert or delete of chunk rows updates the lexical index in the same transaction, so it
always holds exactly the committed chunks; there is nothing to reconcile after a crash.

Queries are never parsed as query syntax: their words (letters and digits) become an OR of quoted
terms, so ``"``, ``*``, ``NEAR``, ``-`` or unbalanced quotes are just text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN
from sqlalchemy import text
from sqlalchemy.engine import Compiled, Connection, Dialect, Engine

from .store import reader_for

FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
PG_TEXT_CONFIG = "english"
PG_COLUMN = "lexical"
MAX_TERMS = 64  # distinct query words sent to the engine; a 10k-character paste stays a bounded query
WORD = re.compile(r"[^\W_]+")
STOPWORDS = frozenset(STOPWORDS_EN)  # bm25s's list: the benchmark's BM25 drops the same words
ENGINES = {"sqlite": "SQLite FTS5", "postgresql": "PostgreSQL full-text search"}


def supported(dialect: str) -> bool:
    return dialect in ENGINES


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased words of a query, stopwords dropped unless nothing else is left."""
    words = list(dict.fromkeys(word.lower() for word in WORD.findall(query)))
    return ([w for w in words if w not in STOPWORDS] or words)[:MAX_TERMS]


def fts_table(collection_id: int) -> str:
    return f"rag_lexical_{int(collection_id)}"


def has_lexical(connection: Connection, collection_id: int) -> bool:
    """Whether the collection's chunks are lexically indexed."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        found = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"
        return connection.execute(text(found), {"name": fts_table(collection_id)}).first() is not None
    if dialect == "postgresql":
        found = (
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'rag_chunks' AND column_name = :name"
        )
        return connection.execute(text(found), {"name": PG_COLUMN}).first() is not None
    return False


def ensure_lexical(engine: Engine, collection_id: int) -> bool:
    """Build the collection's lexical index from its chunk rows if it has none, in one transaction;
    returns whether the collection has one (``False`` on databases other than SQLite and PostgreSQL)."""
    dialect = engine.dialect.name
    if not supported(dialect):
        return False
    with engine.connect() as connection:
        if dialect == "sqlite":
            # pysqlite opens no transaction for DDL by itself: an explicit one makes the build atomic.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('rag_lexical'))"))
        if not has_lexical(connection, collection_id):
            for statement in sqlite_ddl(collection_id) if dialect == "sqlite" else postgres_ddl():
                connection.exec_driver_sql(statement)
        connection.commit()
    return True


def sqlite_ddl(collection_id: int) -> list[str]:
    """FTS5 table over a view of the collection's chunks, triggers that keep it in step, the initial build."""
    t, cid = fts_table(collection_id), int(collection_id)
    delete = f"INSERT INTO {t}({t}, rowid, text) VALUES ('delete', old.id, old.text);"
    insert = f"INSERT INTO {t}(rowid, text) VALUES (new.id, new.text);"
    return [
        *drop_sqlite(collection_id),
        f"CREATE VIEW {t}_content AS SELECT id, text FROM rag_chunks WHERE collection_id = {cid}",
        (
            f"CREATE VIRTUAL TABLE {t} USING fts5(text, content='{t}_content', content_rowid='id', "
            f"tokenize='{FTS_TOKENIZER}')"
        ),
        f"CREATE TRIGGER {t}_insert AFTER INSERT ON rag_chunks WHEN new.collection_id = {cid} BEGIN {insert} END",
        f"CREATE TRIGGER {t}_delete AFTER DELETE ON rag_chunks WHEN old.collection_id = {cid} BEGIN {delete} END",
        (
            f"CREATE TRIGGER {t}_update AFTER UPDATE OF text ON rag_chunks WHEN old.collection_id = {cid} "
            f"BEGIN {delete} {insert} END"
        ),
        f"INSERT INTO {t}({t}) VALUES ('rebuild')",
    ]


def drop_sqlite(collection_id: int) -> list[str]:
    t = fts_table(collection_id)
    return [
        *(f"DROP TRIGGER IF EXISTS {t}_{event}" for event in ("insert", "delete", "update")),
        f"DROP TABLE IF EXISTS {t}",
        f"DROP VIEW IF EXISTS {t}_content",
    ]


def postgres_ddl() -> list[str]:
    """One generated column for every collection: adding it computes it for the existing rows."""
    return [
        (
            f"ALTER TABLE rag_chunks ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector GENERATED ALWAYS AS "
            f"(to_tsvector('{PG_TEXT_CONFIG}'::regconfig, text)) STORED"
        ),
        f"CREATE INDEX IF NOT EXISTS ix_rag_chunks_{PG_COLUMN} ON rag_chunks USING GIN ({PG_COLUMN})",
    ]


def drop_lexical(connection: Connection, collection_id: int) -> None:
    """Remove a collection's own lexical structures (SQLite); PostgreSQL's rows go with the chunk rows."""
    if connection.dialect.name == "sqlite":
        for statement in drop_sqlite(collection_id):
            connection.exec_driver_sql(statement)


def lexical_candidates(url: str, collection_id: int, query: str, n: int | None) -> list[tuple[int, float]]:
    """``(chunk id, score)`` of the ``n`` best lexical matches (all of them for ``None``), best first."""
    terms = query_terms(query)
    if not terms:
        return []
    reader = reader_for(url)
    dialect = reader.engine.dialect
    if dialect.name == "sqlite":
        expression = " OR ".join(f'"{term}"' for term in terms)
        values = [expression, -1 if n is None else n]
    else:
        values = [" | ".join(terms), collection_id, n]
    return [
        (int(i), float(score)) for i, score in reader.rows(lexical_statement(dialect, collection_id), values)
    ]


@lru_cache(maxsize=256)
def lexical_statement(dialect: Dialect, collection_id: int) -> Compiled:
    """The ranked match query, compiled once per collection (SQLite) or once (PostgreSQL)."""
    if dialect.name == "sqlite":
        t = fts_table(collection_id)
        sql = f"SELECT rowid, -bm25({t}) FROM {t} WHERE {t} MATCH :expression ORDER BY rank LIMIT :n"
    else:
        sql = (
            f"SELECT c.id, ts_rank(c.{PG_COLUMN}, q, 1) AS score FROM rag_chunks AS c, "
            f"to_tsquery('{PG_TEXT_CONFIG}'::regconfig, :terms) AS q "
            f"WHERE c.collection_id = :collection AND c.{PG_COLUMN} @@ q ORDER BY score DESC, c.id LIMIT :n"
        )
    return text(sql).compile(dialect=dialect)
