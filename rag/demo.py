"""The demo collection: this project's own documentation (README.md and docs/*.md), default model.

``e5 demo`` (run by ``make app``) builds it; on a second run nothing has changed, so nothing is encoded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .collection import open_or_create
from .config import ScanConfig, Workspace
from .indexer import IndexReport, index_files
from .walk import FileEntry, WalkResult, classify

DEMO_COLLECTION = "demo"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_FILES = ("README.md", "docs/*.md")


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


def build_demo_collection(model: str = "default", *, workspace: Workspace | None = None, root: Path = REPO_ROOT,
                          progress: bool = True, echo: Callable[[str], None] | None = None) -> IndexReport:
    """Index the project's docs into the ``demo`` collection with ``model`` (a no-op when up to date)."""
    from embedder.registry import load_encoder

    files = demo_files(root)
    if not files.files and echo:
        echo(f"no documentation found under {root} (README.md, docs/*.md); the demo collection stays empty")
    collection = open_or_create(DEMO_COLLECTION, load_encoder(model), workspace=workspace, spec=model)
    return index_files(collection, root, files, progress=progress, echo=echo)
