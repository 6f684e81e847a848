"""List collections with their statistics; remove a collection or some of its documents."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .collection import Collection, collection_lock, open_collection
from .config import Workspace, check_collection_name
from .errors import CollectionNotFound, RagError
from .lexical import drop_lexical
from .store import ChunkRow, CollectionRow, DocumentRow, EmbeddingRow, engine_for


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    model: str
    spec: str | None
    dim: int
    factory: str
    documents: int
    chunks: int
    root: str | None
    updated: datetime
    index_bytes: int


def list_collections(workspace: Workspace | None = None) -> list[CollectionInfo]:
    """Every collection with its model, size and the size of its FAISS file."""
    workspace = workspace or Workspace.default()
    docs = (
        select(DocumentRow.collection_id, func.count().label("n"))
        .group_by(DocumentRow.collection_id)
        .subquery()
    )
    chunks = (
        select(ChunkRow.collection_id, func.count().label("n")).group_by(ChunkRow.collection_id).subquery()
    )
    query = (
        select(CollectionRow, func.coalesce(docs.c.n, 0), func.coalesce(chunks.c.n, 0))
        .outerjoin(docs, docs.c.collection_id == CollectionRow.id)
        .outerjoin(chunks, chunks.c.collection_id == CollectionRow.id)
        .order_by(CollectionRow.name)
    )
    with Session(engine_for(workspace.url)) as session:
        rows = session.execute(query).all()
    return [
        CollectionInfo(
            row.name,
            row.model,
            row.spec,
            row.dim,
            row.factory,
            n_docs,
            n_chunks,
            row.root,
            row.updated,
            file_size(workspace.index_path(row.name)),
        )
        for row, n_docs, n_chunks in rows
    ]


def stored_spec(name: str, workspace: Workspace | None = None) -> str | None:
    """The ``--model`` spec a collection was built with, when it was recorded."""
    workspace = workspace or Workspace.default()
    try:
        check_collection_name(name)  # also keeps names the database cannot encode out of the query
    except ValueError as err:
        raise CollectionNotFound(str(err)) from None
    with Session(engine_for(workspace.url)) as session:
        row = session.execute(select(CollectionRow.spec).where(CollectionRow.name == name)).first()
    if row is None:
        raise CollectionNotFound(f"no collection named {name!r}; see `e5 collections`")
    return row.spec


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def remove_collection(name: str, workspace: Workspace | None = None) -> int:
    """Delete a collection, its FAISS file and cached vectors no other collection uses; returns its documents.

    Refused while another process indexes it (the collection lock)."""
    workspace = workspace or Workspace.default()
    stored_spec(name, workspace)  # an unknown collection fails before a lock file is made for it
    with collection_lock(name, workspace):
        return delete_collection(name, workspace)


def delete_collection(name: str, workspace: Workspace) -> int:
    with Session(engine_for(workspace.url)) as session, session.begin():
        row = session.scalar(select(CollectionRow).where(CollectionRow.name == name))
        if row is None:
            raise CollectionNotFound(f"no collection named {name!r}")
        count = session.scalar(select(func.count()).where(DocumentRow.collection_id == row.id))
        drop_lexical(
            session.connection(), row.id
        )  # first: its triggers would otherwise run per deleted chunk
        session.execute(delete(ChunkRow).where(ChunkRow.collection_id == row.id))
        session.execute(delete(DocumentRow).where(DocumentRow.collection_id == row.id))
        session.delete(row)
        session.flush()
        used = (
            select(ChunkRow.text_hash)
            .join(CollectionRow, CollectionRow.id == ChunkRow.collection_id)
            .where(CollectionRow.model == row.model)
        )
        session.execute(
            delete(EmbeddingRow).where(EmbeddingRow.model == row.model, EmbeddingRow.text_hash.not_in(used))
        )
    # A crash before this line leaves only a stale file: chunk ids are never reused, so a new
    # collection of the same name drops its vectors when it reconciles.
    workspace.index_path(name).unlink(missing_ok=True)
    workspace.lock_path(name).unlink(missing_ok=True)  # while locked: see collection_lock
    return int(count or 0)


def remove_paths(name: str, path: str, workspace: Workspace | None = None) -> list[str]:
    """Delete the documents at ``path`` (a relative path, folder, glob, or absolute path under the root).

    Refused while another process indexes the collection (the collection lock)."""
    collection = open_collection(name, workspace=workspace)
    with collection_lock(name, collection.workspace):
        return delete_paths(collection, path)


def delete_paths(collection: Collection, path: str) -> list[str]:
    name = collection.name
    pattern = relative_pattern(path, collection.workspace, name)
    with collection.session() as session, session.begin():
        docs = session.execute(
            select(DocumentRow.id, DocumentRow.path).where(DocumentRow.collection_id == collection.id)
        ).all()
        matched = [(i, p) for i, p in docs if fnmatch(p, pattern) or p.startswith(pattern.rstrip("/") + "/")]
        if not matched:
            raise RagError(f"no document of collection {name!r} matches {path!r}")
        ids = [i for i, _ in matched]
        session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(ids)))
        session.execute(delete(DocumentRow).where(DocumentRow.id.in_(ids)))
    collection.reconcile()
    return sorted(p for _, p in matched)


def relative_pattern(path: str, workspace: Workspace, name: str) -> str:
    """Absolute paths are made relative to the folder the collection was indexed from."""
    if not os.path.isabs(path):
        return path.rstrip("/")
    with Session(engine_for(workspace.url)) as session:
        root = session.scalar(select(CollectionRow.root).where(CollectionRow.name == name))
    if not root or not Path(path).resolve().is_relative_to(root):
        raise RagError(f"{path} is not inside the folder collection {name!r} was indexed from ({root})")
    return Path(path).resolve().relative_to(root).as_posix()
