"""Bad inputs: each gives a clear message, the run goes on with the rest, nothing already indexed is lost."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from test_rag_readers import minimal_pdf

from rag.collection import open_collection
from rag.config import IndexConfig, ScanConfig, Workspace
from rag.errors import RagError
from rag.indexer import index_files, index_folder
from rag.search import search
from rag.walk import walk_folder

CONFIG = IndexConfig(chunk_tokens=16, overlap=4)


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")


def run(folder, encoder, workspace, **kwargs):
    return index_folder(
        folder, encoder, collection="c", workspace=workspace, config=CONFIG, progress=False, **kwargs
    )


def paths(workspace, encoder) -> set[str]:
    collection = open_collection("c", encoder, workspace=workspace)
    assert sorted(collection.vectors.ids()) == sorted(collection.chunk_ids())
    return {hit.path for hit in search(collection, "alpha beta gamma", k=100)}


def test_path_errors(tmp_path, workspace, hash_encoder):
    with pytest.raises(RagError, match="does not exist"):
        run(tmp_path / "missing", hash_encoder, workspace)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RagError, match="is a file, not a folder"):
        run(tmp_path / "file.txt", hash_encoder, workspace)
    (tmp_path / "empty").mkdir()
    report = run(tmp_path / "empty", hash_encoder, workspace)
    assert not report.changed_anything and report.skipped == []
    assert search(open_collection("c", hash_encoder, workspace=workspace), "anything") == []


def test_every_bad_file_is_reported_and_good_ones_survive(tmp_path, workspace, hash_encoder):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("alpha beta gamma good text " * 5)
    (folder / "later-binary.txt").write_text("alpha beta gamma was text once " * 5)
    run(folder, hash_encoder, workspace)

    (folder / "later-binary.txt").write_bytes(b"\x00\x01 now binary")  # indexed version must stay
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blob.bin").write_bytes(os.urandom(64))
    (folder / "latin1.txt").write_bytes("alpha beta gamma caf\xe9".encode("latin-1"))
    (folder / "huge.txt").write_text("alpha " * 5000)
    (folder / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (folder / "good.pdf").write_bytes(minimal_pdf("alpha beta gamma from a PDF"))
    os.symlink(".", folder / "loop")
    os.symlink("self-link", folder / "self-link")
    (folder / "vanishing.md").write_text("alpha beta gamma vanishing")
    walk = walk_folder(folder, ScanConfig(max_file_bytes=10_000))
    (folder / "vanishing.md").unlink()  # deleted between the walk and the read
    collection = open_collection("c", hash_encoder, workspace=workspace)
    report = index_files(collection, folder, walk, progress=False)

    reasons = {s.rel: s.reason for s in report.skipped}
    assert "looks binary" in reasons["later-binary.txt"]
    assert "0 bytes" in reasons["empty.txt"]
    assert "unsupported file type (.bin)" in reasons["blob.bin"]
    assert "size cap" in reasons["huge.txt"]
    assert "malformed PDF" in reasons["bad.pdf"]
    assert "symlink loop" in reasons["loop"]
    assert "Too many levels of symbolic links" in reasons["self-link"]
    assert "vanished" in reasons["vanishing.md"]
    assert dict(report.notes) == {"latin1.txt": "invalid UTF-8 at byte 20; undecodable bytes were replaced"}
    assert sorted(report.added) == ["good.pdf", "latin1.txt"] and report.removed == []
    assert paths(workspace, hash_encoder) == {"good.txt", "later-binary.txt", "latin1.txt", "good.pdf"}


# Root reads every file, so as root the run drops the capabilities that bypass permissions (setpriv).
UNREADABLE = r"""
import json, sys
from pathlib import Path
from embedder.backends.hashing import HashingEncoder
from rag.config import IndexConfig, Workspace
from rag.indexer import index_folder
folder, home = Path(sys.argv[1]), Path(sys.argv[2])
report = index_folder(folder, HashingEncoder(), collection="c", progress=False,
                      workspace=Workspace(f"sqlite:///{home / 'rag.db'}", home / "indexes"),
                      config=IndexConfig(chunk_tokens=16, overlap=4))
print(json.dumps({"added": report.added, "skipped": {s.rel: s.reason for s in report.skipped}}))
"""


def test_unreadable_file_and_folder(tmp_path):
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    folder = tmp_path / "docs"
    (folder / "closed").mkdir(parents=True)
    (folder / "ok.txt").write_text("alpha beta gamma readable")
    (folder / "secret.txt").write_text("alpha beta gamma secret")
    (folder / "closed" / "inner.txt").write_text("alpha beta gamma inner")
    os.chmod(folder / "secret.txt", 0)
    os.chmod(folder / "closed", 0)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", UNREADABLE, str(folder), str(tmp_path)],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        os.chmod(folder / "closed", 0o755)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["added"] == ["ok.txt"]
    assert result["skipped"] == {
        "closed": "folder not readable: Permission denied",
        "secret.txt": "permission denied",
    }
