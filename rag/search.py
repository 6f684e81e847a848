"""Search a collection: dense (the query encoded with a task instruction, FAISS top-k), lexical (the
database's full-text index, see ``lexical``) or hybrid (both, fused by ``embedder.fusion``); hit metadata
from SQL. ``hybrid`` is the default where the collection has a lexical index, else ``dense``.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Compiled, Dialect

from embedder.fusion import FusionConfig, fuse, fusion_for
from embedder.instructions import resolve_instruction

from .collection import Collection
from .errors import RagError
from .lexical import lexical_candidates
from .store import ChunkRow, DocumentRow, reader_for

SNIPPET_CHARS = 300
MAX_K = 10_000  # passages per search; FAISS allocates k results per query up front
MODES = ("dense", "lexical", "hybrid")


class Hit(NamedTuple):
    """One retrieved chunk: ``text == document[start:end]``; ``chunk`` is its ordinal in the document.
    ``dense_rank`` / ``lexical_rank``: its rank on each side (1 = best; ``None``: that side did not find it).

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
    dense_rank: int | None = None
    lexical_rank: int | None = None

    @property
    def snippet(self) -> str:
        """The chunk's text on one line, cut at about ``SNIPPET_CHARS`` characters."""
        flat = re.sub(r"\s+", " ", self.text).strip()
        return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"

    @property
    def position(self) -> str:
        return f"chunk {self.chunk}, chars {self.start}-{self.end}"

    @property
    def found_by(self) -> str:
        """Which side found it, with its ranks: ``dense #2, lexical #1``."""
        return ", ".join(
            f"{side} #{rank}"
            for side, rank in (("dense", self.dense_rank), ("lexical", self.lexical_rank))
            if rank is not None
        )

    def to_dict(self) -> dict:
        return {**self._asdict(), "snippet": self.snippet}


def default_mode(collection: Collection) -> str:
    return "hybrid" if collection.lexical else "dense"


def check_mode(collection: Collection, mode: str | None) -> str:
    """The mode to run (``None``: the collection's default); lexical modes need a lexical index."""
    mode = mode or default_mode(collection)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != "dense" and not collection.lexical:
        raise RagError(
            f"collection {collection.name!r} has no lexical index yet (it was built before hybrid "
            f"search, or its database has no full-text search); run `e5 index FOLDER -c "
            f"{collection.name}` once to build it, or search with --mode dense"
        )
    if mode != "lexical" and collection.encoder is None:
        raise RagError(f"collection {collection.name!r} was opened without an encoder; cannot encode queries")
    return mode


def search(
    collection: Collection,
    query: str,
    *,
    k: int = 10,
    instruction: str | None = None,
    task: str | None = None,
    path_glob: str | None = None,
    mode: str | None = None,
    fusion: FusionConfig | None = None,
) -> list[Hit]:
    """The ``k`` best chunks for ``query``: by vector similarity (the query encoded with the task
    instruction), by the lexical index, or both fused (``fusion``; by default ``fusion_for`` the encoder: min-max
    normalised scores weighted by the encoder's dev-chosen dense weight, else 0.4 dense + 0.6 lexical, over 100
    candidates per side). ``mode`` defaults to hybrid where the collection
    has a lexical index, else dense."""
    if not query.strip():
        raise ValueError("the query is empty")
    mode = check_mode(collection, mode)
    check_k(k)  # before the query is encoded
    fusion = fusion or fusion_for(collection.encoder)
    if mode == "dense":
        return search_vector(
            collection, encode_query(collection, query, instruction, task), k=k, path_glob=path_glob
        )
    allowed = chunk_ids_matching(collection, path_glob) if path_glob else None
    if allowed is not None and not len(allowed):
        return []
    lexical = lexical_side(collection, query, k if mode == "lexical" else max(k, fusion.candidates), allowed)
    if mode == "lexical":
        return fetch_hits(collection, [(i, score, None, rank) for rank, (i, score) in enumerate(lexical, 1)])
    vector = encode_query(collection, query, instruction, task)
    dense = dense_side(collection, vector, max(k, fusion.candidates), allowed)
    fused = fuse(dense, lexical, fusion)[:k]
    return fetch_hits(collection, [(f.key, f.score, f.dense_rank, f.lexical_rank) for f in fused])


def encode_query(collection: Collection, query: str, instruction: str | None, task: str | None) -> np.ndarray:
    return collection.encoder.encode_queries([query], resolve_instruction(instruction, task))[0]


def lexical_side(
    collection: Collection, query: str, n: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """The ``n`` best lexical matches among the ``allowed`` chunk ids (all chunks for ``None``)."""
    if allowed is None:
        return lexical_candidates(collection.workspace.url, collection.id, query, n)
    keep = set(allowed.tolist())
    matches = lexical_candidates(collection.workspace.url, collection.id, query, None)
    return [(i, score) for i, score in matches if i in keep][:n]


def dense_side(
    collection: Collection, vector: np.ndarray, n: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    n = min(n, len(collection.vectors))
    if not n:
        return []
    scores, ids = collection.vectors.search(vector[None, :], n, allowed)
    return [(i, s) for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True) if i >= 0]


def search_vector(
    collection: Collection, vector: np.ndarray, *, k: int = 10, path_glob: str | None = None
) -> list[Hit]:
    """Top-``k`` hits for an already encoded query; ``path_glob`` keeps documents whose path matches.

    ``k`` is at most ``MAX_K`` and is cut to the number of vectors in the collection."""
    k = min(check_k(k), len(collection.vectors))
    if not k:
        return []
    allowed = chunk_ids_matching(collection, path_glob) if path_glob else None
    if allowed is not None and not len(allowed):
        return []
    scores, ids = collection.vectors.search(vector[None, :], k, allowed)
    found = [
        (i, s, rank, None)
        for rank, (i, s) in enumerate(zip(ids[0].tolist(), scores[0].tolist(), strict=True), 1)
        if i >= 0
    ]
    return fetch_hits(collection, found)


def check_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K:,}, got {k:,}")
    return k


def fetch_hits(collection: Collection, found: list[tuple[int, float, int | None, int | None]]) -> list[Hit]:
    """Chunk and document metadata of ``(chunk id, score, dense rank, lexical rank)`` results, in one SQL
    query, in the order given."""
    if not found:
        return []
    reader = reader_for(collection.workspace.url)
    statement = hits_statement(reader.engine.dialect, len(found))
    rows = {row[-1]: row for row in reader.rows(statement, [i for i, *_ in found])}
    return [Hit._make((score, *rows[i], dense, lexical)) for i, score, dense, lexical in found if i in rows]


@lru_cache(maxsize=64)
def hits_statement(dialect: Dialect, n: int) -> Compiled:
    """Hit columns (in ``Hit``'s order, after the score) of ``n`` chunk ids: a fixed IN list, compiled
    once per ``n``."""
    return (
        select(
            DocumentRow.path,
            DocumentRow.title,
            ChunkRow.text,
            ChunkRow.ordinal,
            ChunkRow.char_start,
            ChunkRow.char_end,
            ChunkRow.id,
        )
        .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
        .where(ChunkRow.id.in_([bindparam(f"id{j}") for j in range(n)]))
        .compile(dialect=dialect)
    )


def chunk_ids_matching(collection: Collection, path_glob: str) -> np.ndarray:
    """Ids of the chunks of documents whose relative path matches the glob (``*`` crosses folders)."""
    query = (
        select(ChunkRow.id, DocumentRow.path)
        .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
        .where(ChunkRow.collection_id == collection.id)
    )
    with collection.engine.connect() as conn:
        return np.asarray([i for i, path in conn.execute(query) if fnmatch(path, path_glob)], dtype=np.int64)
