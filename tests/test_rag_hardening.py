"""Regression tests of issue 15 on the retrieval side: what trying to break the CLI and the library found
(allowed roots and symlinks, special files, file names, k, races, FAISS factories, readers that wrote).
Real files, real FAISS, real SQLite, and PostgreSQL when E5_TEST_POSTGRES_URL is set."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_rag_store import workspace as store  # noqa: F401 - the SQLite / PostgreSQL fixture
from typer.testing import CliRunner

from embedder.backends.hashing import HashingEncoder
from rag.catalog import list_collections, remove_collection, remove_paths
from rag.collection import collection_lock, open_collection, open_or_create
from rag.config import IndexConfig, ScanConfig, Workspace
from rag.errors import RagError
from rag.indexer import index_files, index_folder
from rag.search import MAX_K, search
from rag.walk import walk_folder
from ui.cli import app

SMALL = IndexConfig(chunk_tokens=16, overlap=4)
LOCKED = "is being indexed by another process"
runner = CliRunner()


@pytest.fixture
def workspace(store) -> Workspace:  # noqa: F811 - the imported fixture, requested by name
    """SQLite, and PostgreSQL when E5_TEST_POSTGRES_URL is set (the store tests' fixture)."""
    return store


def e5(*args: str):
    return runner.invoke(app, list(args))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def index(folder, workspace, name="c", **kwargs):
    return index_folder(
        folder,
        HashingEncoder(),
        collection=name,
        workspace=workspace,
        config=kwargs.pop("config", SMALL),
        progress=False,
        **kwargs,
    )


def found_paths(workspace, query: str, name: str = "c") -> set[str]:
    return {
        hit.path for hit in search(open_collection(name, HashingEncoder(), workspace=workspace), query, k=100)
    }


@pytest.fixture
def escape(tmp_path):
    """An allowed root whose docs folder links to a folder and a file outside it, and to a file inside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(root / "docs" / "notes.txt", "alpha notes inside the root")
    write(root / "shared" / "plan.txt", "alpha plan inside the root, reached by a symlink")
    write(outside / "secret.txt", "alpha secret outside the root")
    write(outside / "etc" / "passwd.txt", "alpha passwords outside the root")
    docs = root / "docs"
    (docs / "etc").symlink_to(outside / "etc")
    (docs / "link.txt").symlink_to(outside / "secret.txt")
    (docs / "plan.txt").symlink_to(root / "shared" / "plan.txt")
    (docs / "loop").symlink_to(docs)
    return root, docs


def test_allowed_roots_confine_every_file_and_folder_the_walk_reads(escape):
    root, docs = escape
    walk = walk_folder(docs, ScanConfig(allowed_roots=(root,)))
    assert [f.rel for f in walk.files] == ["notes.txt", "plan.txt"]
    reasons = {s.rel: s.reason for s in walk.skipped}
    assert reasons["etc"].endswith("outside/etc, outside the allowed folders")
    assert reasons["link.txt"].endswith("outside/secret.txt, outside the allowed folders")
    assert "symlink loop" in reasons["loop"]
    with pytest.raises(RagError, match="outside the allowed folders"):
        walk_folder(root.parent / "outside", ScanConfig(allowed_roots=(root,)))


def test_without_allowed_roots_symlinks_are_followed_and_loops_still_detected(escape):
    _, docs = escape
    walk = walk_folder(docs)
    assert sorted(f.rel for f in walk.files) == ["etc/passwd.txt", "link.txt", "notes.txt", "plan.txt"]
    assert [s.rel for s in walk.skipped] == ["loop"]


def test_fifos_proc_and_sys_files_are_skipped_with_their_reason(tmp_path, workspace):
    if not Path("/proc/self/mounts").is_file():
        pytest.skip("needs Linux /proc")
    folder = tmp_path / "docs"
    write(folder / "real.txt", "alpha beta gamma a real document")
    os.mkfifo(folder / "pipe.txt")
    (folder / "cpu.txt").symlink_to("/proc/cpuinfo")
    (folder / "kernel").symlink_to("/sys/kernel")
    sys_file = next((p for p in Path("/sys/kernel").iterdir() if p.is_file() and not p.is_symlink()), None)
    if sys_file is not None:
        (folder / "sys.txt").symlink_to(sys_file)
    report = index(folder, workspace)
    reasons = {s.rel: s.reason for s in report.skipped}
    assert report.added == ["real.txt"]
    assert reasons["pipe.txt"] == "not a regular file (a FIFO)"
    assert reasons["cpu.txt"] == "on the kernel's proc file system, not a document"
    assert reasons["kernel"] == "on the kernel's sysfs file system, not a document"
    if sys_file is not None:
        assert reasons["sys.txt"] == "on the kernel's sysfs file system, not a document"
    with pytest.raises(RagError, match="kernel's proc file system"):
        index(Path("/proc/self"), workspace)


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_rest_indexed(tmp_path, workspace):
    folder = tmp_path / "docs"
    write(folder / "good.txt", "alpha beta gamma good")
    write(folder / os.fsdecode(b"bad\xfe.txt"), "alpha beta gamma bad name")
    write(folder / os.fsdecode(b"dir\xff") / "inner.txt", "alpha beta gamma inside a badly named folder")
    report = index(folder, workspace)
    assert report.added == ["good.txt"]
    assert {s.rel: s.reason for s in report.skipped} == {
        "bad\\xfe.txt": "the name is not valid UTF-8; rename it to index it",
        "dir\\xff": "the name is not valid UTF-8; rename it to index it",
    }
    assert found_paths(workspace, "alpha beta gamma") == {"good.txt"}
    with pytest.raises(RagError, match=r"the folder path .*dir\\xff is not valid UTF-8"):
        index(folder / os.fsdecode(b"dir\xff"), workspace)


def test_cli_reports_a_non_utf8_file_name_and_indexes_the_rest(tmp_path):
    folder = tmp_path / "names"
    write(folder / "good.txt", "alpha beta gamma good")
    write(folder / os.fsdecode(b"bad\xfe.txt"), "alpha beta gamma bad name")
    result = e5("index", str(folder), "-m", "hash", "-c", "cli-names", "-q")
    assert result.exit_code == 0, result.output
    assert (
        "skipped bad\\xfe.txt: the name is not valid UTF-8" in result.stderr
        and "added good.txt" in result.stdout
    )
    e5("rm", "cli-names", "-y")


def test_invalid_utf8_in_arguments_is_a_one_line_error(tmp_path):
    write(tmp_path / "fox" / "a.txt", "the quick brown fox")
    assert e5("index", str(tmp_path / "fox"), "-m", "hash", "-c", "cli-fox", "-q").exit_code == 0
    for args, message in [
        (("search", "fox \udcff", "-c", "cli-fox"), "not valid Unicode: a lone surrogate"),
        (("ask", "fox \udcff", "-c", "cli-fox"), "not valid Unicode: a lone surrogate"),
        (("search", "fox", "-c", "b\udcffase"), "invalid collection name"),
        (("rm", "b\udcffase", "-y"), "invalid collection name"),
    ]:
        result = e5(*args)
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output, args
    e5("rm", "cli-fox", "-y")


def test_k_is_bounded_and_cut_to_the_collection(tmp_path, workspace):
    write(tmp_path / "docs" / "a.txt", "alpha fox")
    write(tmp_path / "docs" / "b.txt", "beta fox")
    index(tmp_path / "docs", workspace)
    collection = open_collection("c", HashingEncoder(), workspace=workspace)
    assert len(search(collection, "fox", k=MAX_K)) == 2
    for k in (0, MAX_K + 1, 2**31):
        with pytest.raises(ValueError, match=f"k must be between 1 and {MAX_K:,}"):
            search(collection, "fox", k=k)


def test_cli_refuses_an_absurd_k(tmp_path):
    write(tmp_path / "docs" / "a.txt", "alpha fox")
    e5("index", str(tmp_path / "docs"), "-m", "hash", "-c", "cli-k", "-q")
    for command in ("search", "ask"):
        result = e5(command, "fox", "-c", "cli-k", "-k", "2147483648")
        assert result.exit_code == 2 and "k must be between 1 and 10,000" in result.stderr, result.output
    assert e5("search", "fox", "-c", "cli-k", "-k", "1000000").exit_code == 2
    e5("rm", "cli-k", "-y")


def test_a_writer_holding_the_lock_makes_creation_and_removal_fail_with_the_lock_message(tmp_path, workspace):
    write(tmp_path / "docs" / "a.txt", "alpha beta gamma")
    with collection_lock("new", workspace), pytest.raises(RagError, match=LOCKED):
        index(tmp_path / "docs", workspace, name="new")
    assert "new" not in {info.name for info in list_collections(workspace)}
    index(tmp_path / "docs", workspace)
    with collection_lock("c", workspace):
        for remove in (
            lambda: remove_collection("c", workspace),
            lambda: remove_paths("c", "a.txt", workspace),
        ):
            with pytest.raises(RagError, match=LOCKED):
                remove()
    assert found_paths(workspace, "alpha") == {"a.txt"}
    assert remove_collection("c", workspace) == 1  # the lock file goes with it, and a new lock works
    assert not workspace.lock_path("c").exists()
    index(tmp_path / "docs", workspace)


def test_a_collection_removed_between_open_and_indexing_is_reported(tmp_path, workspace):
    write(tmp_path / "docs" / "a.txt", "alpha beta gamma")
    collection = open_or_create("c", HashingEncoder(), SMALL, workspace=workspace)
    remove_collection("c", workspace)
    with pytest.raises(RagError, match="was removed by another process"):
        index_files(collection, tmp_path / "docs", walk_folder(tmp_path / "docs"), progress=False)


INDEX_SLOWLY = r"""
import sys, time
from pathlib import Path
from embedder.backends.hashing import HashingEncoder
from rag.config import IndexConfig, Workspace
from rag.indexer import index_folder

class Slow(HashingEncoder):
    def encode_documents(self, texts):
        print("encoding", flush=True)
        time.sleep(0.3)
        return super().encode_documents(texts)

folder, url, indexes = sys.argv[1:]
index_folder(folder, Slow(), collection="c", workspace=Workspace(url, Path(indexes)),
             config=IndexConfig(chunk_tokens=8, overlap=0), batch_chunks=2, progress=False)
print("completed", flush=True)
"""

RACE = r"""
import sys
from pathlib import Path
from embedder.backends.hashing import HashingEncoder
from rag.config import Workspace
from rag.errors import RagError
from rag.indexer import index_folder

folder, url, indexes = sys.argv[1:]
try:
    index_folder(folder, HashingEncoder(), collection="race", workspace=Workspace(url, Path(indexes)), progress=False)
    print("indexed")
except RagError as err:
    print(f"refused: {err}")
"""


def child(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_rm_while_another_process_indexes_gets_the_lock_message(tmp_path, workspace):
    folder = tmp_path / "docs"
    for i in range(6):
        write(folder / f"{i}.txt", " ".join(f"word{i}x{j}" for j in range(40)))
    indexer = child(INDEX_SLOWLY, str(folder), workspace.url, str(workspace.folder))
    assert indexer.stdout.readline().strip() == "encoding"
    with pytest.raises(RagError, match=LOCKED):
        remove_collection("c", workspace)
    out, err = indexer.communicate(timeout=120)
    assert indexer.returncode == 0 and "completed" in out, err
    assert len(found_paths(workspace, "word0x1")) == 6


def test_concurrent_creation_of_one_collection_never_ends_in_a_traceback(tmp_path, workspace):
    write(tmp_path / "docs" / "a.txt", "alpha beta gamma")
    for _ in range(3):
        runs = [child(RACE, str(tmp_path / "docs"), workspace.url, str(workspace.folder)) for _ in range(2)]
        outcomes = [run.communicate(timeout=120) for run in runs]
        for (out, err), run in zip(outcomes, runs, strict=True):
            assert run.returncode == 0 and "Traceback" not in err, err
            assert out.startswith("indexed") or LOCKED in out, out
        assert any(out.startswith("indexed") for out, _ in outcomes)
        remove_collection("race", workspace)


def test_an_invalid_factory_creates_nothing(tmp_path):
    write(tmp_path / "docs" / "a.txt", "alpha beta gamma")
    for factory, message in (
        ("Bogus99", "invalid FAISS factory string 'Bogus99'"),
        ("PQ7", "invalid FAISS factory string 'PQ7'"),
    ):  # 256-d hash vectors: 256 % 7 != 0
        result = e5(
            "index", str(tmp_path / "docs"), "-m", "hash", "-c", "cli-factory", "--factory", factory, "-q"
        )
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert "cli-factory" not in e5("collections").stdout
    assert e5("index", str(tmp_path / "docs"), "-m", "hash", "-c", "cli-factory", "-q").exit_code == 0
    assert e5("search", "alpha", "-c", "cli-factory").exit_code == 0
    e5("rm", "cli-factory", "-y")


def test_cli_collection_too_small_for_ivf_is_searchable_and_says_so(tmp_path):
    write(tmp_path / "docs" / "a.txt", "alpha beta gamma")
    write(tmp_path / "docs" / "b.txt", "delta epsilon zeta")
    result = e5(
        "index", str(tmp_path / "docs"), "-m", "hash", "-c", "cli-ivf", "--factory", "IVF1024,Flat", "-q"
    )
    assert result.exit_code == 0, result.output
    assert "'IVF1024,Flat' cannot be trained on 2 vectors yet; searches are exact (Flat)" in result.stdout
    found = e5("search", "epsilon", "-c", "cli-ivf", "-k", "1")
    assert found.exit_code == 0 and "b.txt" in found.stdout
    assert "no changes" in e5("index", str(tmp_path / "docs"), "-c", "cli-ivf", "-q").stdout
    e5("rm", "cli-ivf", "-y")


def test_a_collection_trains_its_index_once_it_holds_enough_vectors(tmp_path, workspace):
    config = IndexConfig(chunk_tokens=8, overlap=0, factory="IVF16,Flat")
    write(tmp_path / "docs" / "a.txt", "alpha beta gamma")
    assert (
        "cannot be trained on 1 vectors yet" in index(tmp_path / "docs", workspace, config=config).index_note
    )
    write(tmp_path / "docs" / "big.txt", " ".join(f"term{i}" for i in range(8 * 40)))
    report = index(tmp_path / "docs", workspace, config=config)
    assert report.index_note is None and report.added == ["big.txt"]
    collection = open_collection("c", HashingEncoder(), workspace=workspace)
    assert collection.vectors.ivf and len(collection.vectors) == 41
    assert search(collection, "alpha beta gamma", k=1)[0].path == "a.txt"


def test_a_reader_never_writes_the_index_file(tmp_path, workspace, caplog):
    folder = tmp_path / "docs"
    write(folder / "a.txt", "alpha beta gamma first")
    index(folder, workspace)
    path = workspace.index_path("c")
    behind = path.read_bytes()
    write(folder / "b.txt", "delta epsilon zeta second")
    index(folder, workspace)
    path.write_bytes(
        behind
    )  # FAISS behind SQL, as while an indexing run is under way (or after one was killed)
    with caplog.at_level(logging.INFO):
        assert found_paths(workspace, "delta epsilon") == {"a.txt", "b.txt"}
    assert path.read_bytes() == behind and not caplog.records
    path.unlink()
    assert found_paths(workspace, "delta epsilon") == {"a.txt", "b.txt"} and not path.exists()
    index(folder, workspace)  # a writer repairs the file
    collection = open_collection("c", HashingEncoder(), workspace=workspace)
    assert path.exists() and len(collection.vectors) == len(collection.chunk_ids()) == 2


def test_hash_encoder_matches_words_whatever_punctuation_follows(tmp_path):
    encoder, workspace = HashingEncoder(), Workspace(f"sqlite:///{tmp_path / 'rag.db'}", tmp_path / "indexes")
    query = encoder.encode_queries(["zebra1"], "")
    for text in ("zebra1", "zebra1.", "(zebra1),", "ZEBRA1!"):
        assert (encoder.encode_documents([text]) @ query.T).item() == pytest.approx(1.0), text
    write(tmp_path / "docs" / "a.txt", "the animal is zebra1.")
    write(tmp_path / "docs" / "b.txt", "the animal is a lion")
    index(tmp_path / "docs", workspace)
    hits = search(open_collection("c", encoder, workspace=workspace), "zebra1", k=2)
    assert hits[0].path == "a.txt" and hits[0].score > hits[1].score
