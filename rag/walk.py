"""Find the files of a folder worth indexing: recursive, ignore patterns, size cap, symlink loops.

Anything left out for a reason a user may not expect (unsupported type, too large, unreadable folder,
symlink loop, outside the allowed roots, not a regular file, a kernel file system such as /proc or /sys,
a name that is not UTF-8) is reported as ``Skipped``; hidden folders left out are listed in
``WalkResult.hidden``; excluded paths are dropped silently.
"""

from __future__ import annotations

import os
import re
import stat as stat_mode
from contextlib import suppress
from dataclasses import dataclass, field
from fnmatch import fnmatch
from functools import cache
from pathlib import Path

from embedder.protocol import surrogate_at

from .config import DEFAULT_EXCLUDES, ScanConfig
from .errors import RagError
from .readers import is_supported

# Kernel file systems: their "files" are live kernel state (sizes of 0 or 4096 whatever they hold), not documents.
KERNEL_FILESYSTEMS = frozenset(
    {
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "debugfs",
        "tracefs",
        "securityfs",
        "pstore",
        "bpf",
        "configfs",
        "efivarfs",
        "mqueue",
        "fusectl",
        "nsfs",
    }
)
MOUNTS = Path("/proc/self/mounts")


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "rel", printable(self.rel))  # reports are printed: no lone surrogates


@dataclass
class WalkResult:
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    hidden: list[str] = field(
        default_factory=list
    )  # hidden folders not walked ("name/"), outside the defaults


def walk_folder(root: Path, config: ScanConfig | None = None) -> WalkResult:
    """All indexable files below ``root`` in a stable order (follows symlinks, never loops)."""
    root, config = Path(root).resolve(), config or ScanConfig()
    if config.allowed_roots and not inside(root, config.allowed_roots):
        raise RagError(f"{printable(str(root))} is outside the allowed folders")
    if (system := kernel_filesystem(root.stat().st_dev)) is not None:
        raise RagError(f"{root} is on the kernel's {system} file system: nothing there is a document")
    result = WalkResult()
    walked: dict[tuple[int, int], str] = {}

    def unreadable_folder(err: OSError) -> None:
        result.skipped.append(
            Skipped(relative(root, Path(err.filename)), f"folder not readable: {err.strerror}", folder=True)
        )

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


def claim_folders(
    root: Path,
    here: Path,
    names: list[str],
    config: ScanConfig,
    walked: dict[tuple[int, int], str],
    result: WalkResult,
) -> list[str]:
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
        if (reason := refused(child, rel, key[0], config)) is not None:
            result.skipped.append(Skipped(rel, reason, folder=True))
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
    if (reason := refused(path, rel, stat.st_dev, config)) is not None:
        return Skipped(rel, reason)
    if not stat_mode.S_ISREG(stat.st_mode):
        return Skipped(rel, f"not a regular file ({file_kind(stat.st_mode)})")
    if not is_supported(path):
        return Skipped(rel, f"unsupported file type ({path.suffix or 'no extension'})")
    if stat.st_size == 0:
        return Skipped(rel, "empty file (0 bytes)")
    if stat.st_size > config.max_file_bytes:
        return Skipped(rel, f"larger than the size cap ({stat.st_size:,} > {config.max_file_bytes:,} bytes)")
    return FileEntry(path, rel, stat.st_size, stat.st_mtime_ns)


def refused(path: Path, rel: str, device: int, config: ScanConfig) -> str | None:
    """Why a file or folder that exists may not be read, or ``None``."""
    if surrogate_at(rel) is not None:  # undecodable bytes in the name
        return "the name is not valid UTF-8; rename it to index it"
    if config.allowed_roots and not inside(path, config.allowed_roots):
        return f"resolves to {printable(os.path.realpath(path))}, outside the allowed folders"
    if (system := kernel_filesystem(device)) is not None:
        return f"on the kernel's {system} file system, not a document"
    return None


def inside(path: Path, roots: tuple[Path, ...]) -> bool:
    """Whether the real path (every symlink resolved) lies in one of ``roots`` (themselves resolved)."""
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(root) for root in roots)


def kernel_filesystem(device: int) -> str | None:
    """The type of the kernel file system (proc, sysfs, ...) holding device ``device``, or ``None``."""
    return kernel_devices().get(device)


@cache
def kernel_devices() -> dict[int, str]:
    """Device id -> type of each mounted kernel file system (empty where /proc/self/mounts is absent)."""
    try:
        lines = MOUNTS.read_text().splitlines()
    except OSError:
        return {}
    devices: dict[int, str] = {}
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] in KERNEL_FILESYSTEMS:
            mount_point = re.sub(
                r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1]
            )  # \040 is a space
            with suppress(OSError):
                devices.setdefault(os.stat(mount_point).st_dev, fields[2])
    return devices


def file_kind(mode: int) -> str:
    for test, kind in (
        (stat_mode.S_ISFIFO, "a FIFO"),
        (stat_mode.S_ISSOCK, "a socket"),
        (stat_mode.S_ISCHR, "a character device"),
        (stat_mode.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "a special file"


def printable(text: str) -> str:
    r"""Undecodable bytes of a file name shown as ``\xfe`` escapes: ``printable("bad\udcfe") == "bad\\xfe"``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
