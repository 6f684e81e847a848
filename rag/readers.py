"""Text extraction by file type: plain text and source code, HTML (BeautifulSoup), PDF (pypdf).

Every reader returns an ``Extracted`` or raises ``Unreadable`` with a reason a user can act on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = frozenset(
    {
        ".txt",
        ".text",
        ".md",
        ".markdown",
        ".rst",
        ".adoc",
        ".org",
        ".tex",
        ".log",
        ".json",
        ".jsonl",
        ".ndjson",
        ".csv",
        ".tsv",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".xml",
        ".svg",
        ".py",
        ".pyi",
        ".ipynb",
        ".js",
        ".jsx",
        ".ts",
        ".tsx",
        ".mjs",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".cxx",
        ".cu",
        ".java",
        ".kt",
        ".scala",
        ".go",
        ".rs",
        ".rb",
        ".php",
        ".pl",
        ".lua",
        ".r",
        ".jl",
        ".swift",
        ".m",
        ".cs",
        ".fs",
        ".hs",
        ".ml",
        ".ex",
        ".exs",
        ".erl",
        ".clj",
        ".sh",
        ".bash",
        ".zsh",
        ".fish",
        ".ps1",
        ".bat",
        ".sql",
        ".css",
        ".scss",
        ".less",
        ".vue",
        ".svelte",
        ".dart",
        ".zig",
        ".nim",
        ".proto",
        ".graphql",
        ".gradle",
        ".cmake",
        ".mk",
    }
)
TEXT_NAMES = frozenset({"makefile", "dockerfile", "license", "readme", "changelog", "authors", "notice"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
PDF_SUFFIXES = frozenset({".pdf"})
SNIFF_BYTES = 8192
MARKDOWN_TITLE = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)
RST_TITLE = re.compile(r"^(?P<title>\S.*)\n(?P<rule>[=\-~#*^]{3,})\s*$", re.MULTILINE)


class Unreadable(Exception):
    """A file that is skipped; the message says why."""


@dataclass(frozen=True)
class Extracted:
    """The text of one file, its title, and an optional note about a recoverable problem."""

    text: str
    title: str
    note: str | None = None


def is_supported(path: Path) -> bool:
    """Whether the file type is one we extract text from (decided by name, before reading)."""
    suffix = path.suffix.lower()
    known = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
    return suffix in known or path.name.lower() in TEXT_NAMES


def read_document(path: Path) -> Extracted:
    """Extract the text of a supported file; raises ``Unreadable`` for anything we cannot index."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Unreadable("vanished before it could be read (deleted during the run?)") from None
    except PermissionError:
        raise Unreadable("permission denied") from None
    except OSError as err:
        raise Unreadable(f"cannot be read: {err.strerror or err}") from None
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        extracted = read_pdf(path, data)
    elif suffix in HTML_SUFFIXES:
        extracted = read_html(path, data)
    else:
        extracted = read_text(path, data)
    if not extracted.text.strip():
        raise Unreadable("contains no text")
    return extracted


def decode_text(data: bytes) -> tuple[str, str | None]:
    """UTF-8 text (BOM stripped); invalid bytes become U+FFFD and the returned note says where."""
    if b"\x00" in data[:SNIFF_BYTES]:
        raise Unreadable("looks binary (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        note = f"invalid UTF-8 at byte {err.start}; undecodable bytes were replaced"
        return data.decode("utf-8-sig", errors="replace"), note


def read_text(path: Path, data: bytes) -> Extracted:
    text, note = decode_text(data)
    return Extracted(text, text_title(path, text), note)


def text_title(path: Path, text: str) -> str:
    """The first Markdown ``#`` heading or reStructuredText title, else the file name."""
    suffix, head = path.suffix.lower(), text[:4096]
    if suffix in {".md", ".markdown"} and (match := MARKDOWN_TITLE.search(head)):
        return match.group(1)
    if suffix == ".rst" and (match := RST_TITLE.search(head)):
        return match.group("title").strip()
    return path.name


def read_html(path: Path, data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    decode_text(data)  # refuse binary content under an .html name
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    text = soup.get_text("\n", strip=True)
    return Extracted(text, title or path.name)


def read_pdf(path: Path, data: bytes) -> Extracted:
    import io

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns per damaged object; we report once
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or path.name
    except Exception as err:  # noqa: BLE001 - pypdf raises many types on damaged files: all mean "skip it"
        raise Unreadable(f"malformed PDF ({type(err).__name__}: {err})") from None
    return Extracted("\n\n".join(p.strip() for p in pages if p.strip()), str(title))
