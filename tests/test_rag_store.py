"""Collections on real SQL (SQLite, and PostgreSQL when E5_TEST_POSTGRES_URL is set) + real FAISS:
round trip, incremental updates, the embedding cache, mismatched encoders, several collections, removal."""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

from embedder.backends.hashing import HashingEncoder
from rag.catalog import list_collections, remove_collection, remove_paths
from rag.collection import open_collection
from rag.config import IndexConfig, Workspace
from rag.errors import CollectionMismatch, CollectionNotFound
from rag.indexer import index_folder
from rag.search import search
from rag.store import Base, ChunkRow, DocumentRow, EmbeddingRow, engine_for

SMALL = IndexConfig(chunk_tokens=16, overlap=4)
FILES = {
    "geo/volcano.md": "# Volcanoes\n\n" + "Magma rises and a volcano erupts with lava and ash. " * 6,
    "geo/rivers.txt": "Rivers carry sediment from mountains to the sea, carving valleys over time. " * 5,
    "kitchen/bread.md": "# Bread\n\nKnead the dough, let the yeast rise, then bake the loaf until golden. "
    * 4,
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workspace(request, tmp_path):
    if request.param == "sqlite":
        yield Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
        return
    url = os.environ.get("E5_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "E5_TEST_POSTGRES_URL is not set (`source .ci/postgres.sh` starts PostgreSQL and sets it)"
        )
    engine = engine_for(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield Workspace(url, tmp_path / "indexes")
    Base.metadata.drop_all(engine)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "notes"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


class CountingEncoder(HashingEncoder):
    """The hashing encoder, counting the document texts it is asked to encode."""

    def __init__(self, dim: int = 256):
        super().__init__(dim)
        self.encoded: list[str] = []

    def encode_documents(self, texts):
        self.encoded.extend(texts)
        return super().encode_documents(texts)


def index(folder, encoder, workspace, name="notes", **kwargs):
    return index_folder(
        folder,
        encoder,
        collection=name,
        workspace=workspace,
        config=kwargs.pop("config", SMALL),
        progress=False,
        **kwargs,
    )


def assert_consistent(collection) -> None:
    """FAISS holds exactly one vector per SQL chunk row, and each document's ordinals run 0..n-1."""
    assert sorted(collection.vectors.ids()) == sorted(collection.chunk_ids())
    with collection.engine.connect() as conn:
        rows = conn.execute(
            select(ChunkRow.document_id, ChunkRow.ordinal).where(ChunkRow.collection_id == collection.id)
        ).all()
    by_doc: dict[int, list[int]] = {}
    for doc_id, ordinal in rows:
        by_doc.setdefault(doc_id, []).append(ordinal)
    assert all(sorted(ordinals) == list(range(len(ordinals))) for ordinals in by_doc.values())


def test_round_trip(workspace, folder, hash_encoder):
    report = index(folder, hash_encoder, workspace)
    assert sorted(report.added) == sorted(FILES) and report.chunks_encoded > len(FILES)
    collection = open_collection("notes", hash_encoder, workspace=workspace)
    assert_consistent(collection)
    hits = search(collection, "volcano erupts with lava", k=3)
    best = hits[0]
    assert best.path == "geo/volcano.md" and best.title == "Volcanoes"
    assert FILES[best.path][best.start : best.end] == best.text and best.score > hits[-1].score
    assert {hit.to_dict()["path"] for hit in hits} <= set(FILES)
    filtered = search(collection, "volcano erupts with lava", k=5, path_glob="kitchen/*")
    assert filtered and {hit.path for hit in filtered} == {"kitchen/bread.md"}
    assert search(collection, "lava", path_glob="nothing/*") == []


def test_progress_callback_counts_chunks_up_to_the_total(workspace, tmp_path, hash_encoder):
    folder = tmp_path / "numbers"
    folder.mkdir()
    for n in range(6):
        (folder / f"{n}.txt").write_text(" ".join(f"word{n}_{i}" for i in range(40)))
    calls = []
    report = index(
        folder,
        hash_encoder,
        workspace,
        batch_chunks=4,
        on_progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    assert len(calls) > 1 and all(stage == calls[0][0] and "6 files" in stage for stage, _, _ in calls)
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and done[-1] == calls[-1][2] == report.chunks_encoded


def test_incremental_add_change_delete_and_noop(workspace, folder):
    encoder = CountingEncoder()
    index(folder, encoder, workspace)
    (folder / "kitchen/soup.txt").write_text(
        "Simmer the onions and carrots slowly for a rich vegetable soup. " * 3
    )
    (folder / "geo/rivers.txt").write_text(
        "Glaciers grind rock into fine flour that turns lakes turquoise. " * 3
    )
    (folder / "geo/volcano.md").unlink()
    os.utime(folder / "kitchen/bread.md", ns=(1, 1))  # mtime moves, text does not
    encoder.encoded.clear()
    report = index(folder, encoder, workspace)
    assert (report.added, report.changed, report.removed) == (
        ["kitchen/soup.txt"],
        ["geo/rivers.txt"],
        ["geo/volcano.md"],
    )
    assert report.unchanged == 1 and all("Knead" not in text for text in encoder.encoded)
    collection = open_collection("notes", encoder, workspace=workspace)
    assert_consistent(collection)
    paths = {hit.path for hit in search(collection, "volcano lava magma", k=20)}
    assert "geo/volcano.md" not in paths
    assert search(collection, "glaciers turquoise lakes", k=1)[0].path == "geo/rivers.txt"
    encoder.encoded.clear()
    again = index(folder, encoder, workspace)
    assert not again.changed_anything and again.chunks_encoded == 0 and encoder.encoded == []
    assert "no changes" in again.summary()


def test_renamed_moved_and_duplicated_files_cost_nothing(workspace, folder):
    encoder = CountingEncoder()
    index(folder, encoder, workspace)
    shutil.move(folder / "geo/rivers.txt", folder / "kitchen/moved-rivers.txt")
    shutil.copy(folder / "kitchen/bread.md", folder / "bread-copy.md")
    encoder.encoded.clear()
    report = index(folder, encoder, workspace)
    assert sorted(report.added) == ["bread-copy.md", "kitchen/moved-rivers.txt"]
    assert report.removed == ["geo/rivers.txt"]
    assert encoder.encoded == [] and report.chunks_encoded == 0 and report.chunks_cached > 0
    collection = open_collection("notes", encoder, workspace=workspace)
    assert_consistent(collection)
    assert search(collection, "rivers carry sediment", k=1)[0].path == "kitchen/moved-rivers.txt"


def test_mismatched_encoder_and_settings_are_refused(workspace, folder, hash_encoder):
    index(folder, hash_encoder, workspace)
    other = HashingEncoder(dim=128)
    with pytest.raises(CollectionMismatch, match=r"'hash:256' \(256-d\).*'hash:128' \(128-d\)"):
        open_collection("notes", other, workspace=workspace)
    with pytest.raises(CollectionMismatch, match="hash:128"):
        index(folder, other, workspace)
    with pytest.raises(CollectionMismatch, match="chunk_tokens: 16 -> 64"):
        index(folder, hash_encoder, workspace, config=IndexConfig(chunk_tokens=64))
    with pytest.raises(CollectionNotFound, match="existing: notes"):
        open_collection("nope", hash_encoder, workspace=workspace)
    collection = open_collection("notes", hash_encoder, workspace=workspace)
    assert len(collection.vectors) == len(collection.chunk_ids()) > 0


def test_collections_side_by_side_and_removal(workspace, folder):
    small, tiny = HashingEncoder(256), HashingEncoder(64)
    index(folder, small, workspace, name="a")
    index(folder, tiny, workspace, name="b")
    infos = {info.name: info for info in list_collections(workspace)}
    assert infos.keys() == {"a", "b"} and infos["b"].model == "hash:64" and infos["a"].documents == 3
    assert infos["a"].chunks > 3 and infos["a"].index_bytes > 0

    assert remove_paths("a", "geo", workspace) == ["geo/rivers.txt", "geo/volcano.md"]
    collection = open_collection("a", small, workspace=workspace)
    assert_consistent(collection)
    assert {hit.path for hit in search(collection, "volcano rivers", k=20)} == {"kitchen/bread.md"}

    assert remove_collection("b", workspace) == 3
    assert [info.name for info in list_collections(workspace)] == ["a"]
    assert not workspace.index_path("b").exists() and not workspace.lock_path("b").exists()
    with collection.engine.connect() as conn:
        cached = conn.scalar(
            select(func.count()).select_from(EmbeddingRow).where(EmbeddingRow.model == "hash:64")
        )
        docs = conn.scalar(select(func.count()).select_from(DocumentRow))
    assert cached == 0 and docs == 1


def test_hnsw_collection_rebuilds_on_delete(workspace, folder, hash_encoder):
    config = IndexConfig(chunk_tokens=16, overlap=4, factory="HNSW32")
    index(folder, hash_encoder, workspace, config=config)
    (folder / "geo/volcano.md").unlink()
    report = index(folder, hash_encoder, workspace, config=config)
    assert report.removed == ["geo/volcano.md"]
    collection = open_collection("notes", hash_encoder, workspace=workspace)
    assert_consistent(collection)
    _, ids = collection.vectors.search(np.ones((1, 256), np.float32) / 16, 100)
    assert set(ids[0][ids[0] >= 0]) == set(collection.chunk_ids())


def test_concurrent_searches_get_their_own_hits(workspace, folder, hash_encoder):
    """Threads share one read connection per database (as the Streamlit app's sessions do)."""
    index(folder, hash_encoder, workspace)
    collection = open_collection("notes", hash_encoder, workspace=workspace)
    queries = [
        ("volcano erupts with lava", 3),
        ("rivers carry sediment", 5),
        ("bake the loaf", 1),
        ("ash", 20),
    ]
    expected = [search(collection, query, k=k) for query, k in queries]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda query: search(collection, query[0], k=query[1]), queries * 50))
    assert results == expected * 50


def test_search_reconnects_after_the_server_drops_its_connection(workspace, folder, hash_encoder):
    if not workspace.url.startswith("postgresql"):
        pytest.skip("needs a database server")
    index(folder, hash_encoder, workspace)
    collection = open_collection("notes", hash_encoder, workspace=workspace)
    expected = search(collection, "volcano erupts with lava", k=3)
    with collection.engine.connect() as conn:
        conn.execute(
            sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    with pytest.raises(Exception, match="terminat"):
        search(collection, "volcano erupts with lava", k=3)
    assert search(collection, "volcano erupts with lava", k=3) == expected
