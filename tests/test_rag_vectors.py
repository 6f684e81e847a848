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
    return float(np.mean([len(set(e) & set(a)) / 10 for e, a in zip(exact, approx, strict=True)]))


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


def test_pq_codes_reranked_with_exact_vectors_reach_the_recall_of_exact_search(data):
    vectors, queries, ids = data
    exact = VectorIndex(vectors.shape[1], "Flat")
    exact.add(ids, vectors)
    _, truth = exact.search(queries, 10)
    recall = {}
    for factory in ("IVF32,PQ8x4", "IVF32,PQ8x4,RFlat"):
        index = VectorIndex(vectors.shape[1], factory)
        index.tune(nprobe=8)
        index.add(ids, vectors)
        recall[factory] = recall_at_10(truth, index.search(queries, 10)[1])
    assert recall["IVF32,PQ8x4"] < 0.5 and recall["IVF32,PQ8x4,RFlat"] >= 0.95
    index.tune(k_factor=1)  # re-ranking only the k PQ candidates: the PQ result set again
    assert recall_at_10(truth, index.search(queries, 10)[1]) == pytest.approx(recall["IVF32,PQ8x4"])


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF32,Flat", "IVF32,PQ8x4,RFlat", "HNSW32,RFlat"])
def test_search_restricted_to_allowed_ids(data, factory):
    vectors, queries, ids = data
    index = VectorIndex(vectors.shape[1], factory)
    index.add(ids, vectors)
    allowed = ids[::10]
    exact = VectorIndex(vectors.shape[1], "Flat")
    exact.add(ids, vectors)
    _, truth = exact.search(queries[:20], 10, allowed)
    _, found = index.search(queries[:20], 10, allowed)
    assert found.shape == (20, 10) and set(found.ravel()) <= set(allowed)
    assert recall_at_10(truth, found) >= 0.9


@pytest.mark.parametrize("factory", ["Flat", "IVF32,Flat", "IVF32,PQ8x4,RFlat"])
def test_remove_save_load_round_trip(tmp_path, data, factory):
    vectors, queries, ids = data
    index = VectorIndex(vectors.shape[1], factory)
    index.add(ids, vectors)
    removed = np.concatenate([ids[:100:2], ids[1000:1100]])
    index.remove(removed[:50])
    index.remove(removed[50:])
    path = tmp_path / "c.faiss"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["c.faiss"]  # no temp file left behind
    loaded = VectorIndex.load(path, vectors.shape[1], factory)
    assert sorted(loaded.ids()) == sorted(np.setdiff1d(ids, removed)) and len(loaded) == len(ids) - len(
        removed
    )
    scores, found = loaded.search(queries, 10)
    assert not set(found.ravel()) & set(removed)
    # Each id still names its own vector: the scores (exact for these indexes) are its inner product.
    exact = np.einsum("qd,qkd->qk", queries, vectors[ids.searchsorted(found)])
    assert np.allclose(scores, exact, atol=1e-5)


def test_unusable_files_load_empty(tmp_path):
    (tmp_path / "torn.faiss").write_bytes(b"not a faiss file")
    assert len(VectorIndex.load(tmp_path / "torn.faiss", 8, "Flat")) == 0
    assert len(VectorIndex.load(tmp_path / "missing.faiss", 8, "Flat")) == 0


def test_hnsw_cannot_remove_and_bad_factories_are_refused():
    with pytest.raises(RagError, match="cannot remove"):
        VectorIndex(8, "HNSW16").remove(np.array([1]))
    with pytest.raises(RagError, match="invalid FAISS factory"):
        VectorIndex(8, "NoSuchIndex")


@pytest.mark.parametrize("factory", ["IVF64,Flat", "IVF16,PQ4"])
def test_an_index_too_small_to_train_searches_exactly_until_it_can_be_trained(tmp_path, factory):
    vectors = unit(np.random.default_rng(1).standard_normal((400, 8)))
    index, exact = VectorIndex(8, factory), VectorIndex(8, "Flat")
    index.add(np.arange(10), vectors[:10])
    exact.add(np.arange(10), vectors[:10])
    assert index.exact_stand_in and "cannot be trained on 10 vectors yet" in index.untrained_note()
    np.testing.assert_array_equal(index.search(vectors[:5], 3)[1], exact.search(vectors[:5], 3)[1])
    np.testing.assert_array_equal(
        index.search(vectors[:5], 3, np.arange(0, 10, 2))[1],
        exact.search(vectors[:5], 3, np.arange(0, 10, 2))[1],
    )

    index.save(tmp_path / "small.faiss")
    reloaded = VectorIndex.load(tmp_path / "small.faiss", 8, factory)
    assert reloaded.exact_stand_in and len(reloaded) == 10
    reloaded.add(np.arange(10, 400), vectors[10:])  # enough now: trained on all 400, the stand-in is gone
    assert not reloaded.exact_stand_in and reloaded.ivf and reloaded.untrained_note() is None
    assert sorted(reloaded.ids()) == list(range(400))
    assert (reloaded.search(vectors[:20], 1)[1].ravel() == np.arange(20)).mean() >= 0.9
