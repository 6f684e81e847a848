"""FAISS vectors of one collection: inner product over L2-normalised vectors, ids = SQL chunk ids.

Any FAISS factory string works ("Flat" exact, "HNSW32", "IVF1024,Flat", "IVF1024,PQ48"); indexes
that need training are trained on the first vectors added. Searches run on a GPU copy when
faiss-gpu and a CUDA device are present. Files are written atomically (temp file + ``os.replace``).
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

from .errors import RagError

DEFAULT_NPROBE = 32
DEFAULT_EF_SEARCH = 128


class VectorIndex:
    def __init__(self, dim: int, factory: str = "Flat", index: faiss.IndexIDMap | None = None):
        self.dim = dim
        self.factory = factory
        self.index = index if index is not None else empty_index(dim, factory)
        self._device_index = None
        self.nprobe = self.ef_search = 0
        self.tune(DEFAULT_NPROBE, DEFAULT_EF_SEARCH)

    @property
    def ivf(self) -> bool:
        return faiss.try_extract_index_ivf(self.index) is not None

    @property
    def hnsw(self) -> bool:
        return isinstance(faiss.downcast_index(self.index.index), faiss.IndexHNSW)

    def tune(self, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Search-time accuracy knobs: IVF lists probed, HNSW candidate list size (others ignore them)."""
        space = faiss.ParameterSpace()
        if nprobe and self.ivf:
            self.nprobe = nprobe
            space.set_index_parameters(self.index, f"nprobe={nprobe}")
        if ef_search and self.hnsw:
            self.ef_search = ef_search
            space.set_index_parameters(self.index, f"efSearch={ef_search}")
        self._device_index = None

    @classmethod
    def load(cls, path: Path, dim: int, factory: str) -> VectorIndex:
        """Read an index file; a missing or unreadable file gives an empty index (rebuilt from SQL)."""
        try:
            index = faiss.read_index(str(path))
        except RuntimeError:
            return cls(dim, factory)
        if index.d != dim or not isinstance(index, faiss.IndexIDMap):
            return cls(dim, factory)
        return cls(dim, factory, index)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def supports_remove(self) -> bool:
        return not self.hnsw  # HNSW graphs cannot drop nodes; callers rebuild instead

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.index.is_trained:
            self.train(vectors)
        self.index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        self._device_index = None

    def train(self, vectors: np.ndarray) -> None:
        try:
            self.index.train(vectors)
        except RuntimeError as err:
            raise RagError(f"cannot train FAISS index {self.factory!r} on {len(vectors)} vectors ({first_line(err)}); "
                           "index more text or use a smaller index such as 'Flat' or 'HNSW32'") from None

    def remove(self, ids: np.ndarray) -> None:
        if not self.supports_remove:
            raise RagError(f"FAISS index {self.factory!r} cannot remove vectors; rebuild it instead")
        self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))
        self._device_index = None

    def reset(self) -> None:
        """Drop all vectors and any training (a rebuild starts from scratch)."""
        self.index = empty_index(self.dim, self.factory)
        self.tune(self.nprobe, self.ef_search)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query; ids of missing results are -1. ``allowed`` restricts the ids."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if not self.index.is_trained:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if allowed is None:
            return self.device_index().search(queries, k)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if self.ivf:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe)
        elif self.hnsw:
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.ef_search)
        else:
            params = faiss.SearchParameters(sel=selector)
        return self.index.search(queries, k, params=params)

    def device_index(self):
        """A GPU copy for search when faiss-gpu and CUDA are present (HNSW stays on the CPU)."""
        if self._device_index is None:
            self._device_index = self.index
            if hasattr(faiss, "index_cpu_to_all_gpus") and faiss.get_num_gpus() > 0 and not self.hnsw:
                try:
                    self._device_index = faiss.index_cpu_to_all_gpus(self.index)
                except RuntimeError:
                    pass  # this index type has no GPU implementation
        return self._device_index

    def save(self, path: Path) -> None:
        """Write atomically: a reader or a crash sees the old file or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        remove_stale_temps(path)


def remove_stale_temps(path: Path) -> None:
    """Delete temp files of writers that died before ``os.replace`` (their pid is gone)."""
    for tmp in path.parent.glob(f"{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def empty_index(dim: int, factory: str) -> faiss.IndexIDMap:
    try:
        return faiss.IndexIDMap(faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT))
    except RuntimeError as err:
        raise RagError(f"invalid FAISS factory string {factory!r}: {first_line(err)}") from None


def first_line(err: Exception) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(err).__name__
