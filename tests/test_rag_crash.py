"""Crash safety: an indexing subprocess killed with SIGKILL at several points leaves a collection that
opens and searches consistently (FAISS, the lexical index and the SQL rows agree); the next run completes
it, with no chunk lost or duplicated."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from test_rag_hybrid import lexical_ids

from embedder.backends.hashing import HashingEncoder
from rag.collection import open_collection
from rag.config import IndexConfig, Workspace
from rag.indexer import index_folder
from rag.lexical import drop_lexical
from rag.search import search
from rag.store import ChunkRow, DocumentRow

CONFIG = IndexConfig(chunk_tokens=12, overlap=3)
TOPICS = [
    "granite",
    "orchid",
    "comet",
    "violin",
    "glacier",
    "falcon",
    "copper",
    "lantern",
    "meadow",
    "harbor",
    "saffron",
    "tundra",
]

# Runs one indexing run in a child process that kills itself at the N-th occurrence of a named point.
CHILD = r"""
import os, signal, sys, time
from pathlib import Path
from embedder.backends.hashing import HashingEncoder
import rag.indexer as indexer, rag.lexical as lexical, rag.vectors as vectors
from rag.config import IndexConfig, Workspace

point, count, folder, url, index_dir = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
seen = 0

def reached(name):
    global seen
    if name == point:
        seen += 1
        if seen == count:
            os.kill(os.getpid(), signal.SIGKILL)

class Encoder(HashingEncoder):
    def encode_documents(self, texts):
        reached("encode")
        print("encoding", flush=True)
        time.sleep(0.05)  # gives the timed kill something to interrupt
        return super().encode_documents(texts)

commit, replace = indexer.commit_group, os.replace
indexer.commit_group = lambda *a, **k: (commit(*a, **k), reached("after_commit"))
vectors.os.replace = lambda src, dst: (reached("before_replace"), replace(src, dst), reached("after_replace"))
ddl = lexical.sqlite_ddl
def statements(collection_id):  # the lexical index's build, one transaction: killed between two statements
    for statement in ddl(collection_id):
        yield statement
        reached("lexical_ddl")
lexical.sqlite_ddl = statements
indexer.index_folder(folder, Encoder(), collection="c", workspace=Workspace(url, Path(index_dir)),
                     config=IndexConfig(chunk_tokens=12, overlap=3), batch_chunks=4, progress=False)
print("completed")
"""


def make_folder(root: Path, topics: list[str], version: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for topic in topics:
        words = " ".join(f"{topic}{version} detail{i} of the {topic} story" for i in range(6))
        (root / f"{topic}.txt").write_text(words)
    return root


def run_child(point: str, count: int, folder: Path, workspace: Workspace, kill_after: float | None = None):
    command = [
        sys.executable,
        "-c",
        CHILD,
        point,
        str(count),
        str(folder),
        workspace.url,
        str(workspace.folder),
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is not None:  # once the run is under way, wait a little, then kill
        assert child.stdout.readline().strip() == "encoding"
        time.sleep(kill_after)
        child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=120)
    return child.returncode, out, err


def contents(workspace: Workspace) -> list[tuple[str, int, str]]:
    """(path, ordinal, text) of every chunk: duplicates would show up as repeated tuples."""
    collection = open_collection("c", HashingEncoder(), workspace=workspace)
    assert sorted(collection.vectors.ids()) == sorted(collection.chunk_ids()), "FAISS and SQL disagree"
    if collection.lexical:
        assert lexical_ids(collection) == set(collection.chunk_ids().tolist()), (
            "lexical index and SQL disagree"
        )
    query = select(DocumentRow.path, ChunkRow.ordinal, ChunkRow.text).join(DocumentRow)
    with collection.engine.connect() as conn:
        return sorted(
            tuple(row) for row in conn.execute(query.where(ChunkRow.collection_id == collection.id))
        )


def reference(tmp_path: Path, folder: Path) -> list[tuple[str, int, str]]:
    workspace = Workspace(f"sqlite:///{tmp_path / 'ref.db'}", tmp_path / "ref")
    index_folder(folder, HashingEncoder(), collection="c", workspace=workspace, config=CONFIG, progress=False)
    return contents(workspace)


@pytest.mark.parametrize(
    "point, count, kill_after",
    [
        ("lexical_ddl", 3, None),  # collection row committed, its lexical index half built
        ("encode", 1, None),  # before anything was committed
        ("encode", 4, None),  # between batches: some files committed, FAISS file not yet written
        ("after_commit", 2, None),  # right after a transaction
        ("before_replace", 1, None),  # FAISS temp file written, not yet moved into place
        ("after_replace", 1, None),  # everything written, process dies before returning
        ("timer", 0, 0.15),  # wherever the run happens to be 0.15 s after it started encoding
    ],
)
def test_killed_run_is_consistent_and_next_run_completes(tmp_path, point, count, kill_after):
    folder = make_folder(tmp_path / "docs", TOPICS)
    workspace = Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
    code, out, err = run_child(point, count, folder, workspace, kill_after)
    assert code == -signal.SIGKILL and "completed" not in out, err
    try:
        partial = contents(workspace)
    except Exception as err:  # noqa: BLE001 - only "not created yet" is acceptable
        assert "no collection named 'c'" in str(err)
        partial = []
    expected = reference(tmp_path, folder)
    assert set(partial) <= set(expected) and len(partial) == len(set(partial))

    index_folder(folder, HashingEncoder(), collection="c", workspace=workspace, config=CONFIG, progress=False)
    assert contents(workspace) == expected
    assert not [p.name for p in workspace.folder.iterdir() if ".tmp-" in p.name]  # dead writers' temp files
    hits = search(open_collection("c", HashingEncoder(), workspace=workspace), "glacier story detail", k=3)
    assert hits[0].path == "glacier.txt"


def test_killed_incremental_run_keeps_old_versions(tmp_path):
    folder = make_folder(tmp_path / "docs", TOPICS)
    workspace = Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
    index_folder(folder, HashingEncoder(), collection="c", workspace=workspace, config=CONFIG, progress=False)
    before = contents(workspace)
    make_folder(folder, TOPICS[:6], version="v2")  # change half of the files
    (folder / "harbor.txt").unlink()
    code, _, err = run_child("encode", 3, folder, workspace)
    assert code == -signal.SIGKILL, err
    partial = contents(workspace)  # every file is at its old or its new version, never half of each
    after = reference(tmp_path, folder)
    for path in {p for p, _, _ in partial}:
        mine = [row for row in partial if row[0] == path]
        assert mine in ([r for r in before if r[0] == path], [r for r in after if r[0] == path])
    index_folder(folder, HashingEncoder(), collection="c", workspace=workspace, config=CONFIG, progress=False)
    assert contents(workspace) == after


def test_killed_lexical_upgrade_of_an_existing_collection_leaves_it_dense_then_completes(tmp_path):
    folder = make_folder(tmp_path / "docs", TOPICS)
    workspace = Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
    index_folder(folder, HashingEncoder(), collection="c", workspace=workspace, config=CONFIG, progress=False)
    collection = open_collection("c", HashingEncoder(), workspace=workspace)
    with collection.engine.begin() as conn:  # as a collection built before hybrid search
        drop_lexical(conn, collection.id)
    code, _, err = run_child("lexical_ddl", 5, folder, workspace)  # inside the build's transaction
    assert code == -signal.SIGKILL, err
    assert not open_collection("c", HashingEncoder(), workspace=workspace).lexical  # nothing half built
    index_folder(folder, HashingEncoder(), collection="c", workspace=workspace, config=CONFIG, progress=False)
    upgraded = open_collection("c", HashingEncoder(), workspace=workspace)
    assert upgraded.lexical and contents(workspace) == reference(tmp_path, folder)
    assert search(upgraded, "glacier", mode="lexical")[0].path == "glacier.txt"
