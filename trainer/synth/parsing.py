"""Tolerant extraction of JSON from LLM replies: code fences, chatter before and after, Python lists."""

from __future__ import annotations

import ast
import json
import re

FENCE = re.compile(r"```(?:json|python)?\s*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
DECODER = json.JSONDecoder()


class ParseError(ValueError):
    """The reply holds no JSON value we can read."""


def extract_json(text: str) -> object:
    """The first JSON object or list in ``text``.

    >>> extract_json('Sure! ```json\\n{"a": 1}\\n``` Hope it helps.')
    {'a': 1}
    """
    candidates = [block.strip() for block in FENCE.findall(text)] + [text.strip()]
    for candidate in candidates:
        found = _first_value(candidate)
        if found is not None:
            return found
    raise ParseError("no JSON object or list found")


def _first_value(text: str) -> object | None:
    """Decode from each opening bracket in turn, ignoring whatever trails the value."""
    for match in re.finditer(r"[{\[]", text):
        try:
            value, _ = DECODER.raw_decode(text, match.start())
            return value
        except json.JSONDecodeError:
            pass
    return _python_list(text)


def _python_list(text: str) -> list | None:
    """The paper's brainstorm prompt asks for a Python list; accept single-quoted ones too."""
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        value = ast.literal_eval(text[start : end + 1])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, list) else None


def task_text(item: object) -> str | None:
    """A task string, or the task-like field of an object some models write instead."""
    if isinstance(item, dict):
        item = next((item[k] for k in ("task", "description", "title") if isinstance(item.get(k), str)), None)
    return item if isinstance(item, str) else None


def extract_tasks(text: str) -> list[str]:
    """Task definitions from a brainstorm reply: ``{"tasks": [...]}`` or a bare list of strings."""
    value = extract_json(text)
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = value.get("tasks", lists[0] if len(lists) == 1 else None)
    if not isinstance(value, list):
        raise ParseError("expected a list of task strings")
    tasks = [text.strip() for text in map(task_text, value) if text and text.strip()]
    if not tasks:
        raise ParseError("the list holds no task strings")
    return tasks
