"""Search a collection: encode the query with a task instruction, FAISS top-k, hit metadata from SQL."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from fnmatch import fnmatch

import numpy as np
from sqlalchemy import bindparam, select

from embedder.instructions import DEFAULT_TASK, instruction_for

from .collection import Collection
from .errors import RagError
from .store import ChunkRow, DocumentRow

SNIPPET_CHARS = 300
HITS_QUERY = (select(ChunkRow.id, ChunkRow.ordinal, ChunkRow.char_start, ChunkRow.char_end, ChunkRow.text,
                     DocumentRow.path, DocumentRow.title)
              .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
              .where(ChunkRow.id.in_(bindparam("ids", expanding=True))))  # built once: one query per search


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: ``text == document[start:end]``; ``chunk`` is its ordinal in the document."""

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
        return {**asdict(self), "snippet": self.snippet}


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
    vector = collection.encoder.encode_queries([query], resolve_instruction(instruction, task))
    return search_vector(collection, vector[0], k=k, path_glob=path_glob)


def search_vector(collection: Collection, vector: np.ndarray, *, k: int = 10,
                  path_glob: str | None = None) -> list[Hit]:
    """Top-``k`` hits for an already encoded query; ``path_glob`` keeps documents whose path matches."""
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    allowed = chunk_ids_matching(collection, path_glob) if path_glob else None
    if allowed is not None and not len(allowed):
        return []
    scores, ids = collection.vectors.search(vector[None, :], k, allowed)
    found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
    return fetch_hits(collection, found)


def fetch_hits(collection: Collection, found: list[tuple[int, float]]) -> list[Hit]:
    """Chunk and document metadata of FAISS results, in one SQL query, in score order."""
    if not found:
        return []
    ids = [chunk_id for chunk_id, _ in found]
    with collection.engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(HITS_QUERY, {"ids": ids})}
    return [Hit(score, rows[i].path, rows[i].title, rows[i].text, rows[i].ordinal, rows[i].char_start,
                rows[i].char_end, i) for i, score in found if i in rows]


def chunk_ids_matching(collection: Collection, path_glob: str) -> np.ndarray:
    """Ids of the chunks of documents whose relative path matches the glob (``*`` crosses folders)."""
    query = (select(ChunkRow.id, DocumentRow.path).join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
             .where(ChunkRow.collection_id == collection.id))
    with collection.engine.connect() as conn:
        return np.asarray([i for i, path in conn.execute(query) if fnmatch(path, path_glob)], dtype=np.int64)
