"""Typed settings of the retrieval pipeline: how folders are indexed and where collections live."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

# Folders never worth indexing; virtual environments are also recognised by their pyvenv.cfg.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "__pycache__",
    "venv",
    ".venv",
    "site-packages",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    "*.egg-info",
)
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DB_URL_ENV = "E5_RAG_DB"


@dataclass(frozen=True)
class IndexConfig:
    """What determines a collection's chunks and vectors; stored with it and fixed for its lifetime.

    ``chunk_tokens``/``overlap`` count tokens of the encoder's own tokenizer (the overlap defaults to an
    eighth of a chunk); 240 tokens leave room for the default model's template, BOS and EOS (12 tokens),
    so a whole chunk fits its 256-token window and none is truncated.
    ``factory`` is a FAISS index factory string
    over inner product ("Flat" is exact; e.g. "HNSW32" or "IVF1024,PQ48,RFlat" for large collections).
    """

    chunk_tokens: int = 240
    overlap: int | None = None
    factory: str = "Flat"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 8:
            raise ValueError(f"chunk_tokens must be at least 8, got {self.chunk_tokens}")
        if self.overlap is None:
            object.__setattr__(self, "overlap", self.chunk_tokens // 8)
        if not 0 <= self.overlap < self.chunk_tokens:
            raise ValueError(f"overlap must be in [0, chunk_tokens={self.chunk_tokens}), got {self.overlap}")
        if not self.factory.strip() or "IDMap" in self.factory:
            raise ValueError(
                f"factory must be a FAISS factory string without IDMap (ids are added), got {self.factory!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScanConfig:
    """Which files of a folder one indexing run considers (may differ from run to run).

    ``allowed_roots``, when given (the app), confines the walk: every file and folder it reads must
    resolve inside one of them, symlinks included. Without them (the CLI) symlinks are followed anywhere.
    """

    max_file_bytes: int = 5_000_000
    excludes: tuple[str, ...] = ()
    include_hidden: bool = False
    allowed_roots: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1:
            raise ValueError(f"max_file_bytes must be positive, got {self.max_file_bytes}")
        object.__setattr__(self, "excludes", tuple(self.excludes))
        object.__setattr__(self, "allowed_roots", tuple(Path(root).resolve() for root in self.allowed_roots))


@dataclass(frozen=True)
class Workspace:
    """Where collections live: an SQLAlchemy URL for metadata and a folder for the FAISS files."""

    url: str
    folder: Path

    @classmethod
    def default(cls) -> Workspace:
        """``$E5_RAG_DB`` (any SQLAlchemy URL) or SQLite at ``$E5_HOME/rag.db``; vectors in ``$E5_HOME/indexes``."""
        from embedder.paths import e5_home

        home = e5_home()
        return cls(os.environ.get(DB_URL_ENV) or f"sqlite:///{home / 'rag.db'}", home / "indexes")

    def index_path(self, collection: str) -> Path:
        return self.folder / f"{collection}.faiss"

    def lock_path(self, collection: str) -> Path:
        return self.folder / f"{collection}.lock"


def check_collection_name(name: str) -> str:
    """A collection name doubles as a file name: letters, digits, ``_ . -``, at most 64 characters."""
    if not COLLECTION_NAME.match(name):
        raise ValueError(
            f"invalid collection name {name!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, at most 64 characters)"
        )
    return name
