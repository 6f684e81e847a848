"""The Index page may read only inside configured root folders: no path escape, symlinks included.

This checks the folder typed; the walk checks every file and folder below it (``ScanConfig.allowed_roots``).
"""

from __future__ import annotations

from pathlib import Path


def resolve_allowed(text: str, roots: tuple[Path, ...]) -> Path:
    """The real folder ``text`` names, if it lies inside one of ``roots``; else a readable error.

    >>> resolve_allowed("/etc", (Path("/home/me"),))  # raises PermissionError
    """
    if not text.strip():
        raise ValueError("enter the path of a folder to index")
    path = Path(text.strip()).expanduser().resolve()  # resolves "..", and symlinks that point elsewhere
    if not any(path.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise PermissionError(f"{path} is outside the folders this app may index ({allowed})")
    if not path.exists():
        raise FileNotFoundError(f"folder {path} does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is a file, not a folder")
    return path
