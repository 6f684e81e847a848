"""FAISS wrapper: ANN recall against exact search, id filtering, removal, atomic files."""

import numpy as np
import pytest

from rag.errors import RagError
from rag.vectors import VectorIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    """Random clustered unit vectors (like embeddings, which are never uniform) and queries near them."""
    rng = np.random.default_rng(0)
    dim, n = 64, 3000
    centers = unit(rng.standard_normal((50, dim)))
    vectors = unit(centers[rng.integers(0, 50, n)] + 0.05 * rng.standard_normal((n, dim)))
    queries = unit(vectors[rng.integers(0, n, 100)] + 0.05 * rng.standard_normal((100, dim)))
    ids = np.arange(n, dtype=np.int64) * 7 + 3  # ids unrelated to positions, as SQL ids are
    return vectors, queries, ids


def recall_at_10(exact: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean([len(set(e) & set(a)) / 10 for e, a in zip(exact, approx)]))


@pytest.mark.parametrize("factory, nprobe", [("HNSW32", None), ("IVF32,Flat", 8)])
def test_ann_recall_at_10_against_exact(data, factory, nprobe):
    vectors, queries, ids = data
    exact = VectorIndex(vectors.shape[1], "Flat")
    exact.add(ids, vectors)
    approx = VectorIndex(vectors.shape[1], factory)
    approx.tune(nprobe=nprobe)
    approx.add(ids, vectors)  # IVF is trained on these first vectors
    _, truth = exact.search(queries, 10)
    _, found = approx.search(queries, 10)
    assert set(found.ravel()) <= set(ids)
    assert recall_at_10(truth, found) >= 0.95


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF32,Flat"])
def test_search_restricted_to_allowed_ids(data, factory):
    vectors, queries, ids = data
    index = VectorIndex(vectors.shape[1], factory)
    index.add(ids, vectors)
    allowed = ids[::10]
    _, found = index.search(queries[:5], 10, allowed)
    assert found.shape == (5, 10) and set(found.ravel()) <= set(allowed)


def test_remove_save_load_round_trip(tmp_path, data):
    vectors, _, ids = data
    index = VectorIndex(vectors.shape[1], "Flat")
    index.add(ids[:100], vectors[:100])
    index.remove(ids[:10])
    path = tmp_path / "c.faiss"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["c.faiss"]  # no temp file left behind
    loaded = VectorIndex.load(path, vectors.shape[1], "Flat")
    assert sorted(loaded.ids()) == sorted(ids[10:100])
    scores, found = loaded.search(vectors[50:51], 1)
    assert found[0, 0] == ids[50] and scores[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_unusable_files_load_empty(tmp_path):
    (tmp_path / "torn.faiss").write_bytes(b"not a faiss file")
    assert len(VectorIndex.load(tmp_path / "torn.faiss", 8, "Flat")) == 0
    assert len(VectorIndex.load(tmp_path / "missing.faiss", 8, "Flat")) == 0


def test_hnsw_cannot_remove_and_ivf_needs_enough_training_data():
    with pytest.raises(RagError, match="cannot remove"):
        VectorIndex(8, "HNSW16").remove(np.array([1]))
    tiny = VectorIndex(8, "IVF64,Flat")
    with pytest.raises(RagError, match=r"cannot train FAISS index 'IVF64,Flat' on 10 vectors"):
        tiny.add(np.arange(10), unit(np.random.default_rng(1).standard_normal((10, 8))))
    with pytest.raises(RagError, match="invalid FAISS factory"):
        VectorIndex(8, "NoSuchIndex")
