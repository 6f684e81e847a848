"""Quality gates for generated examples: schema, length, script, copying, and duplicate keys."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from functools import cache

import regex

from .languages import script_of
from .prompts import Category

WORD = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]|\w+")
LETTER = regex.compile(r"\p{L}")


class Rejected(ValueError):
    """An output failed a gate; ``reason`` is a short stable code for stats and audit."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the sanity checks (words: whitespace words, or characters of unspaced scripts)."""

    max_short_words: int = 64
    min_long_words: int = 20
    min_script_fraction: float = 0.5
    copy_min_words: int = 4
    task_words: tuple[int, int] = (4, 60)

    def __post_init__(self) -> None:
        if self.max_short_words < 1 or self.min_long_words < 1 or self.copy_min_words < 1:
            raise ValueError("word limits must be positive")
        if not 0.0 <= self.min_script_fraction <= 1.0:
            raise ValueError(f"min_script_fraction must be in [0, 1], got {self.min_script_fraction}")
        if not 1 <= self.task_words[0] <= self.task_words[1]:
            raise ValueError(f"task_words must be (min, max) with 1 <= min <= max, got {self.task_words}")


def normalise(text: str) -> str:
    """Case-, accent-width- and punctuation-insensitive form: ``"Hello,  World!" -> "hello world"``."""
    return " ".join(WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def word_count(text: str) -> int:
    return len(WORD.findall(text))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def script_fraction(text: str, script: str) -> float:
    """Share of the letters of ``text`` written in ``script`` (1.0 when it has no letters)."""
    letters = LETTER.findall(text)
    if not letters:
        return 1.0
    pattern = script_pattern(script)
    return sum(1 for ch in letters if pattern.match(ch)) / len(letters)


@cache
def script_pattern(script: str) -> regex.Pattern:
    """``"Han|Hiragana"`` -> a character class matching either script."""
    return regex.compile("[" + "".join(f"\\p{{{name}}}" for name in script.split("|")) + "]")


def check_example(
    category: Category, value: object, params: dict[str, str], gates: GateConfig
) -> dict[str, str]:
    """The example's fields by role (query, positive, negative), or ``Rejected`` with the first failure."""
    fields = check_schema(category, value)
    for key, text in fields.items():
        words = word_count(text)
        if key in category.short and words > gates.max_short_words:
            raise Rejected("length", f"{key} has {words} words; the limit is {gates.max_short_words}")
        if key in category.long and words < gates.min_long_words:
            raise Rejected("length", f"{key} has {words} words; at least {gates.min_long_words} are needed")
        language = category.language_of(key, params)
        share = script_fraction(text, script_of(language))
        if share < gates.min_script_fraction:
            raise Rejected("language", f"{key} is {share:.0%} in the script of {language}")
    triple = {role: fields[key] for role, key in category.roles.items()}
    check_distinct(triple)
    if category.copy_check:
        check_not_copied(triple, gates.copy_min_words)
    return triple


def check_schema(category: Category, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Rejected("schema", f"expected a JSON object, got {type(value).__name__}")
    missing = [key for key in category.keys if key not in value]
    if missing:
        raise Rejected("schema", f"missing keys {missing}; got {sorted(value)[:8]}")
    wrong = [key for key in category.keys if not isinstance(value[key], str) or not value[key].strip()]
    if wrong:
        raise Rejected("schema", f"keys {wrong} must be non-empty strings")
    return {key: value[key].strip() for key in category.keys}


def check_distinct(triple: dict[str, str]) -> None:
    forms = {role: normalise(text) for role, text in triple.items()}
    if forms["query"] == forms["positive"]:
        raise Rejected("degenerate", "the positive equals the query")
    if "negative" in forms and forms["negative"] == forms["positive"]:
        raise Rejected("degenerate", "the negative equals the positive")


def check_not_copied(triple: dict[str, str], min_words: int) -> None:
    query = normalise(triple["query"])
    if len(query.split()) < min_words:
        return  # short queries legitimately occur inside relevant documents
    for role in ("positive", "negative"):
        if role in triple and query in normalise(triple[role]):
            raise Rejected("copied_query", f"the query is copied verbatim into the {role}")


def duplicate_keys(triple: dict[str, str]) -> tuple[str, str]:
    """(exact, near) hashes: of the raw fields, and of the normalised query and positive."""
    exact = digest(json.dumps(triple, sort_keys=True, ensure_ascii=False))
    near = digest(normalise(triple["query"]) + "\x1f" + normalise(triple["positive"]))
    return exact, near


def check_task(text: str, gates: GateConfig) -> str:
    """A brainstormed task definition, if it reads like one sentence of sensible length."""
    low, high = gates.task_words
    if not low <= word_count(text) <= high:
        raise Rejected("task_length", f"task has {word_count(text)} words, not {low}-{high}")
    return " ".join(text.split())
