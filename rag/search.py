"""Search a collection: encode the query with a task instruction, FAISS top-k, hit metadata from SQL."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Compiled, Dialect

from embedder.instructions import DEFAULT_TASK, instruction_for

from .collection import Collection
from .errors import RagError
from .store import ChunkRow, DocumentRow, reader_for

SNIPPET_CHARS = 300
MAX_K = 10_000  # passages per search; FAISS allocates k results per query up front


class Hit(NamedTuple):
    """One retrieved chunk: ``text == document[start:end]``; ``chunk`` is its ordinal in the document.

    A named tuple: immutable, and built in a tenth of the time of a frozen dataclass (search's hot path).
    """

    score: float
    path: str
    title: str
    text: str
    chunk: int
    start: int
    end: int
    chunk_id: int

    @property
    def snippet(self) -> str:
        """The chunk's text on one line, cut at about ``SNIPPET_CHARS`` characters."""
        flat = re.sub(r"\s+", " ", self.text).strip()
        return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"

    @property
    def position(self) -> str:
        return f"chunk {self.chunk}, chars {self.start}-{self.end}"

    def to_dict(self) -> dict:
        return {**self._asdict(), "snippet": self.snippet}


def resolve_instruction(instruction: str | None = None, task: str | None = None) -> str:
    """An explicit instruction wins; else the instruction of ``task`` (default: web search)."""
    if instruction is not None and task is not None:
        raise ValueError("give an instruction or a task, not both")
    return instruction if instruction is not None else instruction_for(task or DEFAULT_TASK)


def search(collection: Collection, query: str, *, k: int = 10, instruction: str | None = None,
           task: str | None = None, path_glob: str | None = None) -> list[Hit]:
    """The ``k`` chunks most similar to ``query``, encoded with the task instruction."""
    if collection.encoder is None:
        raise RagError(f"collection {collection.name!r} was opened without an encoder; cannot encode queries")
    if not query.strip():
        raise ValueError("the query is empty")
    check_k(k)  # before the query is encoded
    vector = collection.encoder.encode_queries([query], resolve_instruction(instruction, task))
    return search_vector(collection, vector[0], k=k, path_glob=path_glob)


def search_vector(collection: Collection, vector: np.ndarray, *, k: int = 10,
                  path_glob: str | None = None) -> list[Hit]:
    """Top-``k`` hits for an already encoded query; ``path_glob`` keeps documents whose path matches.

    ``k`` is at most ``MAX_K`` and is cut to the number of vectors in the collection."""
    k = min(check_k(k), len(collection.vectors))
    if not k:
        return []
    allowed = chunk_ids_matching(collection, path_glob) if path_glob else None
    if allowed is not None and not len(allowed):
        return []
    scores, ids = collection.vectors.search(vector[None, :], k, allowed)
    found = [(i, s) for i, s in zip(ids[0].tolist(), scores[0].tolist()) if i >= 0]
    return fetch_hits(collection, found)


def check_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K:,}, got {k:,}")
    return k


def fetch_hits(collection: Collection, found: list[tuple[int, float]]) -> list[Hit]:
    """Chunk and document metadata of FAISS results, in one SQL query, in score order."""
    if not found:
        return []
    reader = reader_for(collection.workspace.url)
    statement = hits_statement(reader.engine.dialect, len(found))
    rows = {row[-1]: row for row in reader.rows(statement, [i for i, _ in found])}
    return [Hit._make((score, *rows[i])) for i, score in found if i in rows]


@lru_cache(maxsize=64)
def hits_statement(dialect: Dialect, n: int) -> Compiled:
    """Hit columns (in ``Hit``'s order, after the score) of ``n`` chunk ids: a fixed IN list, compiled
    once per ``n``."""
    return (select(DocumentRow.path, DocumentRow.title, ChunkRow.text, ChunkRow.ordinal, ChunkRow.char_start,
                   ChunkRow.char_end, ChunkRow.id)
            .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
            .where(ChunkRow.id.in_([bindparam(f"id{j}") for j in range(n)]))
            .compile(dialect=dialect))


def chunk_ids_matching(collection: Collection, path_glob: str) -> np.ndarray:
    """Ids of the chunks of documents whose relative path matches the glob (``*`` crosses folders)."""
    query = (select(ChunkRow.id, DocumentRow.path).join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
             .where(ChunkRow.collection_id == collection.id))
    with collection.engine.connect() as conn:
        return np.asarray([i for i, path in conn.execute(query) if fnmatch(path, path_glob)], dtype=np.int64)
