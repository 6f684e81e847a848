"""How a hit reads: rendered Markdown for .md, a code block for source files, plain text otherwise; a
bounded snippet around the part of the chunk that best matches the query, the rest behind "Show more".

Pure functions (``hit_kind``, ``best_window``, ``escape_markdown``, ``retriever_note``) plus ``show_hit``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import streamlit as st

from rag.search import Hit

SNIPPET_CHARS = 600
MARKDOWN = (".md", ".markdown")
TEXT = (".txt", ".pdf", ".docx", ".html", ".htm", ".rst", ".csv", ".tsv")
LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".sh": "bash",
    ".toml": "toml",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".sql": "sql",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".ipynb": "json",
    ".cfg": "ini",
    ".ini": "ini",
    ".xml": "xml",
    ".css": "css",
}
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~=:])")
TERM = re.compile(r"\w{3,}")


def hit_kind(path: str) -> tuple[str, str | None]:
    """``("markdown", None)``, ``("code", language)`` or ``("text", None)`` from the file's suffix."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in MARKDOWN:
        return "markdown", None
    if suffix in TEXT or not suffix:
        return "text", None
    return "code", LANGUAGES.get(suffix)


def escape_markdown(text: str) -> str:
    """``text`` shown literally by ``st.markdown`` (``__init__.py`` stays ``__init__.py``)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def query_terms(query: str) -> set[str]:
    return {term.lower() for term in TERM.findall(query)}


def best_window(text: str, query: str, width: int = SNIPPET_CHARS) -> tuple[int, int]:
    """``(start, end)`` of at most ``width`` characters of ``text`` around the line holding the most query
    words, grown by whole lines on both sides; a longer line is cut at spaces. The whole text if it fits."""
    if len(text) <= width:
        return 0, len(text)
    terms = query_terms(query)
    lines = [match.span() for match in re.finditer(r"[^\n]*\n?", text) if match.group()]
    scores = [sum(term in text[a:b].lower() for term in terms) for a, b in lines]
    best = scores.index(max(scores))
    start, end = lines[best]
    if end - start > width:
        return cut_line(text, start, end, terms, width)
    before, after = best - 1, best + 1
    grown = True
    while grown:  # one line after, one line before, while they fit
        grown = False
        if after < len(lines) and lines[after][1] - start <= width:
            end, after, grown = lines[after][1], after + 1, True
        if before >= 0 and end - lines[before][0] <= width:
            start, before, grown = lines[before][0], before - 1, True
    return start, end


def cut_line(text: str, start: int, end: int, terms: set[str], width: int) -> tuple[int, int]:
    """``width`` characters of one long line, from a space about a third of the width before the first
    query word."""
    line = text[start:end].lower()
    first = min((line.index(term) for term in terms if term in line), default=0)
    left = max(start, min(start + first - width // 3, end - width))
    if left > start and " " in text[left : left + width // 3]:
        left = text.index(" ", left) + 1
    right = min(end, left + width)
    if right < end and " " in text[left:right]:
        right = text.rindex(" ", left, right)
    return left, right


def balanced_fences(markdown: str) -> str:
    """A Markdown snippet cut inside a fenced code block gets the fence closed."""
    return markdown + "\n```" if len(re.findall(r"^\s*```", markdown, flags=re.MULTILINE)) % 2 else markdown


def retriever_note(hit: Hit) -> str:
    """Which retriever found the hit, its rank in each list the hit carries, and what its score is."""
    dense, lexical = getattr(hit, "dense_rank", None), getattr(hit, "lexical_rank", None)
    if dense and lexical:
        return f"dense #{dense} · lexical #{lexical} · fused score {hit.score:.3f}"
    if lexical:
        return f"lexical #{lexical} · score {hit.score:.3f}"
    return f"dense{f' #{dense}' if dense else ''} · cosine similarity {hit.score:.3f}"


def show_text(kind: str, language: str | None, text: str) -> None:
    if kind == "markdown":
        st.markdown(balanced_fences(text))
    elif kind == "code":
        st.code(text, language=language)
    else:
        st.text(text)


def show_hit(rank: str, hit: Hit, query: str) -> None:
    """One hit in a bordered box: rank, title and path (never read as Markdown), the retriever that found
    it, then the best-matching part of the chunk shown as what the file is, the whole chunk on demand."""
    kind, language = hit_kind(hit.path)
    start, end = best_window(hit.text, query)
    with st.container(border=True):
        title = escape_markdown(hit.title or PurePosixPath(hit.path).name)
        st.markdown(f"**{rank} {title}**  \n`{hit.path}` · {hit.position} · {retriever_note(hit)}")
        show_text(kind, language, hit.text[start:end].strip("\n"))
        if (start, end) != (0, len(hit.text)):
            with st.expander(f"Show more (the whole chunk, {len(hit.text):,} characters)"):
                show_text(kind, language, hit.text)
