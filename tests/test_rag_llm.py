"""Indexing with real LLM encoders: chunks cut by the model's own tokenizer (tiny random Llama), and the
demo collection built with the real default model (slow)."""

import pytest

from embedder.registry import load_encoder
from rag.collection import open_collection
from rag.config import IndexConfig, Workspace
from rag.demo import DEMO_COLLECTION, build_demo_collection, demo_files
from rag.indexer import index_folder
from rag.search import search


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")


def test_chunks_follow_the_model_tokenizer(tmp_path, workspace, tiny_llm_dir):
    encoder = load_encoder(str(tiny_llm_dir))
    folder = tmp_path / "papers"
    folder.mkdir()
    text = "Contrastive pre-training aligns queries with passages. " * 30
    (folder / "paper.txt").write_text(text)
    report = index_folder(
        folder, encoder, workspace=workspace, config=IndexConfig(chunk_tokens=24, overlap=4), progress=False
    )
    collection = open_collection("papers", encoder, workspace=workspace)
    hits = search(collection, "contrastive pre-training", k=50, task="scifact")
    assert len(hits) == report.chunks_encoded + report.chunks_cached + report.chunks_repeated > 10
    for hit in hits:
        assert text[hit.start : hit.end] == hit.text
        assert len(encoder.tokenizer(hit.text, add_special_tokens=False)["input_ids"]) <= 24


@pytest.mark.slow
def test_demo_collection_with_the_default_model(tmp_path, workspace):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Demo\n\nIndex a folder and search it with an instruction.")
    (tmp_path / "docs" / "faiss.md").write_text(
        "# Vectors\n\nFAISS keeps one vector per chunk, exact by default."
    )
    (tmp_path / "docs" / "notes.txt").write_text("not part of the demo")
    assert [f.rel for f in demo_files(tmp_path).files] == ["README.md", "docs/faiss.md"]
    first = build_demo_collection(root=tmp_path, workspace=workspace, progress=False)
    assert sorted(first.added) == ["README.md", "docs/faiss.md"] and first.chunks_encoded == 2
    again = build_demo_collection(root=tmp_path, workspace=workspace, progress=False)
    assert not again.changed_anything and again.chunks_encoded == 0
    collection = open_collection(DEMO_COLLECTION, load_encoder("default"), workspace=workspace)
    assert search(collection, "How many vectors does FAISS keep per chunk?", k=1)[0].path == "docs/faiss.md"
    assert search(collection, "How do I index a folder and search it?", k=1)[0].path == "README.md"
