"""Find the files of a folder worth indexing: recursive, ignore patterns, size cap, symlink loops.

Anything left out for a reason a user may not expect (unsupported type, too large, unreadable folder,
symlink loop) is reported as ``Skipped``; hidden folders left out are listed in ``WalkResult.hidden``;
excluded paths are dropped silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from .config import DEFAULT_EXCLUDES, ScanConfig
from .readers import is_supported


@dataclass(frozen=True)
class FileEntry:
    """A file to index: absolute path, POSIX path relative to the root, size and mtime."""

    path: Path
    rel: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A path that exists but is not indexed now; ``folder`` marks a whole subtree."""

    rel: str
    reason: str
    folder: bool = False


@dataclass
class WalkResult:
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # hidden folders not walked ("name/"), outside the defaults


def walk_folder(root: Path, config: ScanConfig | None = None) -> WalkResult:
    """All indexable files below ``root`` in a stable order (follows symlinks, never loops)."""
    root, config = Path(root).resolve(), config or ScanConfig()
    result = WalkResult()
    walked: dict[tuple[int, int], str] = {}

    def unreadable_folder(err: OSError) -> None:
        result.skipped.append(Skipped(relative(root, Path(err.filename)), f"folder not readable: {err.strerror}",
                                      folder=True))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable_folder, followlinks=True):
        here = Path(dirpath)
        walked.setdefault(inode(here), relative(root, here))
        dirnames[:] = sorted(claim_folders(root, here, dirnames, config, walked, result))
        for name in sorted(filenames):
            entry = classify(root, here / name, config)
            if isinstance(entry, FileEntry):
                result.files.append(entry)
            elif entry is not None:
                result.skipped.append(entry)
    return result


def claim_folders(root: Path, here: Path, names: list[str], config: ScanConfig, walked: dict[tuple[int, int], str],
                  result: WalkResult) -> list[str]:
    """Sub-folders to descend into; each physical folder is walked once (real folders win over symlinks)."""
    kept = []
    for name in sorted(names, key=lambda n: ((here / n).is_symlink(), n)):
        child = here / name
        rel = relative(root, child)
        if excluded(child, rel, config, folder=True):
            if name.startswith(".") and not config.include_hidden and not default_excluded(child):
                result.hidden.append(f"{rel}/")
            continue
        try:
            key = inode(child)
        except OSError as err:
            result.skipped.append(Skipped(rel, f"folder not readable: {err.strerror}", folder=True))
            continue
        if key in walked:
            ancestor = walked[key] == "" or rel.startswith(walked[key] + "/")
            kind = "symlink loop" if ancestor else "duplicate folder"
            result.skipped.append(Skipped(rel, f"{kind}: same folder as {walked[key] or '.'}/", folder=True))
            continue
        walked[key] = rel
        kept.append(name)
    return kept


def classify(root: Path, path: Path, config: ScanConfig) -> FileEntry | Skipped | None:
    """A file to index, a reported skip, or ``None`` for an excluded path."""
    rel = relative(root, path)
    if excluded(path, rel, config, folder=False):
        return None
    try:
        stat = path.stat()
    except OSError as err:
        kind = "broken symlink" if path.is_symlink() else "cannot stat"
        return Skipped(rel, f"{kind}: {err.strerror}")
    if not is_supported(path):
        return Skipped(rel, f"unsupported file type ({path.suffix or 'no extension'})")
    if stat.st_size == 0:
        return Skipped(rel, "empty file (0 bytes)")
    if stat.st_size > config.max_file_bytes:
        return Skipped(rel, f"larger than the size cap ({stat.st_size:,} > {config.max_file_bytes:,} bytes)")
    return FileEntry(path, rel, stat.st_size, stat.st_mtime_ns)


def excluded(path: Path, rel: str, config: ScanConfig, *, folder: bool) -> bool:
    """Hidden names, the default folder excludes, virtual environments and the user's globs."""
    name = path.name
    if name.startswith(".") and not config.include_hidden:
        return True
    if folder and default_excluded(path):
        return True
    return any(fnmatch(rel, p) or fnmatch(name, p) for p in config.excludes)


def default_excluded(folder: Path) -> bool:
    """Folders never worth indexing: ``DEFAULT_EXCLUDES`` and virtual environments."""
    return any(fnmatch(folder.name, p) for p in DEFAULT_EXCLUDES) or is_venv(folder)


def is_venv(folder: Path) -> bool:
    try:
        return (folder / "pyvenv.cfg").is_file()
    except OSError:  # an unreadable folder is reported when the walk tries to enter it
        return False


def inode(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else ""
