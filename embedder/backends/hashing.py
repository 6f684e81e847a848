"""A deterministic bag-of-words encoder by feature hashing: instant, dependency-free, lexical.

Useful for tests and demos that need real, reproducible vectors without a neural model.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from ..protocol import check_texts, l2_normalize

TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEncoder:
    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"hash:{dim}"

    def encode_queries(self, texts: list[str], instruction: str) -> np.ndarray:
        return self._encode(check_texts(texts))  # lexical: the instruction would only add noise

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(check_texts(texts))

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return l2_normalize(out)
