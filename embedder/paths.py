"""Where the project keeps its data: collections, caches, results, dequantised model weights."""

from __future__ import annotations

import os
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
