"""Where the project keeps its data: collections, caches, results, dequantised model weights."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def e5_home() -> Path:
    """Data folder for collections, caches and results: ``$E5_HOME`` or ``~/.local/share/e5``."""
    root = (
        os.environ.get("E5_HOME")
        or Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "e5"
    )
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    """A sub-folder of ``$E5_HOME/cache``, created on demand."""
    path = e5_home().joinpath("cache", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_cache_dir() -> Path:
    """Where dequantised default weights live: ``$E5_MODEL_CACHE`` or ``$E5_HOME/cache/models``.

    Separate from the data folder so that tests with a throw-away ``E5_HOME`` reuse the weights.
    """
    override = os.environ.get("E5_MODEL_CACHE")
    if not override:
        return cache_dir("models")
    path = Path(override).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def staged_folder(target: Path) -> Iterator[tuple[Path, Path]]:
    """``(scratch, out)`` for a block that builds the folder ``out`` (anything else it needs goes in
    ``scratch``); when the block succeeds, ``out`` becomes ``target`` in one rename, so that an interrupted
    build never leaves half a folder at ``target``. A ``target`` that another process published first is
    kept. ``scratch`` lies beside ``target`` (same file system) and is removed either way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        out = scratch / "out"
        yield scratch, out
        try:
            out.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
