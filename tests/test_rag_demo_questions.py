"""The demo collection as a test of a model: every demo question finds its expected passage in its file."""

from __future__ import annotations

import pytest

from rag.collection import open_collection
from rag.config import Workspace
from rag.demo import DEMO_COLLECTION, DEMO_QUESTIONS, REPO_ROOT, build_demo_collection, question_ranks


def test_every_demo_question_names_a_passage_of_its_file():
    for question in DEMO_QUESTIONS:
        assert question.passage in (REPO_ROOT / question.path).read_text(encoding="utf-8"), question


@pytest.mark.parametrize("model", ["hash", "minilm"])
def test_the_demo_questions_find_their_passages(model, tmp_path):
    from embedder.registry import load_encoder

    workspace = Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
    build_demo_collection(model, workspace=workspace, progress=False)
    ranks = question_ranks(open_collection(DEMO_COLLECTION, load_encoder(model), workspace=workspace), k=5)
    missed = [question.question for question, rank in ranks if rank is None]
    assert not missed, f"{model} missed {missed}: {ranks}"


def test_a_demo_collection_built_with_another_model_is_rebuilt(tmp_path):
    from embedder.registry import load_encoder

    workspace = Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
    build_demo_collection("hash", workspace=workspace, progress=False)
    lines: list[str] = []
    report = build_demo_collection("minilm", workspace=workspace, progress=False, echo=lines.append)
    assert report.added and not report.removed
    assert any("rebuilding it with" in line for line in lines), lines
    collection = open_collection(DEMO_COLLECTION, load_encoder("minilm"), workspace=workspace)
    assert collection.dim == 384
    assert all(rank is not None for _, rank in question_ranks(collection, k=5))
