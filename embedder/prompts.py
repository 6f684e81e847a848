"""Instruction formatting and prompt templates (loaded from ``templates.toml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tomllib

TEMPLATES_FILE = Path(__file__).with_name("templates.toml")


def format_query(instruction: str, query: str) -> str:
    """The paper's query format.

    >>> format_query("Retrieve parallel sentences.", "hi")
    'Instruct: Retrieve parallel sentences.\\nQuery: hi'
    """
    return f"Instruct: {instruction}\nQuery: {query}"


@dataclass(frozen=True)
class PromptTemplate:
    """How raw texts are wrapped before encoding; ``query`` may use ``{instruction}``."""

    name: str
    query: str
    document: str

    def format_query(self, instruction: str, text: str) -> str:
        return self.query.format(instruction=instruction, text=text)

    def format_document(self, text: str) -> str:
        return self.document.format(text=text)


@cache
def templates() -> dict[str, PromptTemplate]:
    """All named templates from the data file."""
    raw = tomllib.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))
    return {name: PromptTemplate(name=name, **fields) for name, fields in raw.items()}


def get_template(name: str) -> PromptTemplate:
    """Look up a template by name, with the valid names in the error."""
    table = templates()
    if name not in table:
        raise ValueError(f"unknown prompt template {name!r}; choose one of {sorted(table)}")
    return table[name]
