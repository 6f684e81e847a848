"""The demo collection: this project's own documentation (README.md and docs/*.md), default model.

``e5 demo`` (run by ``make app``) builds it; on a second run nothing has changed, so nothing is encoded.
``DEMO_QUESTIONS`` keep it a real test of a model: each names the file and passage that answer it, and
``e5 demo --check`` prints the rank at which each is found (asserted in the tests for hash and minilm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .catalog import remove_collection
from .collection import Collection, open_or_create
from .config import ScanConfig, Workspace
from .errors import EncoderMismatch
from .indexer import IndexReport, index_files
from .search import search
from .walk import FileEntry, WalkResult, classify

DEMO_COLLECTION = "demo"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_FILES = ("README.md", "docs/*.md")


@dataclass(frozen=True)
class DemoQuestion:
    """A question about this project, the file that answers it and a passage of that file's answer."""

    question: str
    path: str
    passage: str


DEMO_QUESTIONS = (
    DemoQuestion(
        "which small LLM is the default model that runs offline on a laptop CPU",
        "README.md",
        "The default embedder is **Gemma-3-270M**",
    ),
    DemoQuestion(
        "where are the screenshots of the search page",
        "README.md",
        "![Search page](docs/screenshots/search.png)",
    ),
    DemoQuestion(
        "is SQL or FAISS the source of truth after a crash",
        "docs/ARCHITECTURE.md",
        "SQL is the source of truth",
    ),
    DemoQuestion(
        "which FAISS index factory strings can a collection use",
        "docs/ARCHITECTURE.md",
        "`e5 index --factory`",
    ),
)


def demo_files(root: Path = REPO_ROOT) -> WalkResult:
    """The documentation files of the repository, in a stable order."""
    result = WalkResult()
    paths = sorted({path for pattern in DEMO_FILES for path in root.glob(pattern)})
    for path in paths:
        entry = classify(root, path, ScanConfig())
        if isinstance(entry, FileEntry):
            result.files.append(entry)
        elif entry is not None:
            result.skipped.append(entry)
    return result


def build_demo_collection(
    model: str = "default",
    *,
    workspace: Workspace | None = None,
    root: Path = REPO_ROOT,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> IndexReport:
    """Index the project's docs into the ``demo`` collection with ``model`` (a no-op when up to date).

    A demo collection built with another encoder (another model, or a new release of the default adapter)
    is rebuilt: it holds only the project's own docs, so nothing of the user's is lost."""
    from embedder.registry import load_encoder

    workspace = workspace or Workspace.default()
    encoder = load_encoder(model)
    files = demo_files(root)
    if not files.files and echo:
        echo(f"no documentation found under {root} (README.md, docs/*.md); the demo collection stays empty")
    try:
        collection = open_or_create(DEMO_COLLECTION, encoder, workspace=workspace, spec=model)
    except EncoderMismatch:
        if echo:
            echo(f"the demo collection was built with another encoder; rebuilding it with {encoder.name!r}")
        remove_collection(DEMO_COLLECTION, workspace)
        collection = open_or_create(DEMO_COLLECTION, encoder, workspace=workspace, spec=model)
    return index_files(collection, root, files, progress=progress, echo=echo)


def question_ranks(
    collection: Collection, k: int = 5, questions: tuple[DemoQuestion, ...] = DEMO_QUESTIONS
) -> list[tuple[DemoQuestion, int | None]]:
    """For each question, the rank (1-based) of the first hit holding its passage in its file, within the
    top ``k`` (``None``: not found)."""
    ranks = []
    for question in questions:
        hits = search(collection, question.question, k=k, task="qa")
        found = [
            rank
            for rank, hit in enumerate(hits, 1)
            if hit.path == question.path and question.passage in hit.text
        ]
        ranks.append((question, found[0] if found else None))
    return ranks
