"""``e5 embed``: texts in (one per line), vectors out (JSONL or ``.npy``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import numpy as np

from .protocol import Encoder


def read_lines(stream: Iterable[str]) -> list[str]:
    """One text per line; blank lines are skipped (an embedding of nothing is meaningless)."""
    return [line.rstrip("\n") for line in stream if line.strip()]


def embed_texts(encoder: Encoder, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
    """Queries when an instruction is given, documents otherwise."""
    if instruction is not None:
        return encoder.encode_queries(texts, instruction)
    return encoder.encode_documents(texts)


def write_vectors(vectors: np.ndarray, output: Path | None, stdout: TextIO) -> None:
    """``.npy`` when the output path says so, JSONL (``{"embedding": [...]}`` a line) otherwise."""
    if output is not None and output.suffix == ".npy":
        np.save(output, vectors.astype(np.float32))
        return
    lines = (json.dumps({"embedding": [round(float(x), 7) for x in row]}) + "\n" for row in vectors)
    if output is None:
        stdout.writelines(lines)
    else:
        with output.open("w", encoding="utf-8") as handle:
            handle.writelines(lines)
