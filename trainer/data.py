"""Training examples from JSONL pairs/triples and STS pairs, each error naming file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from embedder.instructions import resolve_instruction


@dataclass(frozen=True)
class Example:
    """One training triple; ``instruction`` goes on the query side only (as in the paper).
    ``origin`` is ``file:line`` (or ``file:query-id``) for error messages."""

    query: str
    positive: str
    negative: str | None
    instruction: str
    origin: str


def indices_by_task(examples: Sequence[Example]) -> dict[str, list[int]]:
    """The examples' indices grouped by instruction (one task per source), in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault(example.instruction, []).append(index)
    return groups


class DataError(ValueError):
    """Malformed training data; the message names the file and line."""


def task_instruction(task: str) -> str:
    """A known task name maps to the paper's instruction; any other text is the instruction itself."""
    return resolve_instruction(task=task, fallback=task.strip())


def _text(row: dict, key: str, where: str, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        problem = "missing" if value is None else f"not a string ({type(value).__name__})"
        raise DataError(f"{where}: field {key!r} is {problem}")
    if not value.strip():
        raise DataError(f"{where}: field {key!r} is empty")
    return value.strip()


def read_examples(path: str | Path, task: str | None = None) -> list[Example]:
    """Rows ``{query, positive, negative?, instruction? | task?}``: generic pairs, the shared
    ``train/`` sets (``task`` holds the instruction) and ``e5 synth export`` files."""
    examples = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{where}: not valid JSON ({err.msg})") from err
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            instruction = _text(row, "instruction", where, False) or _text(row, "task", where, False) or task
            if instruction is None:
                raise DataError(f"{where}: no 'instruction' or 'task' field and no task set for this source")
            examples.append(
                Example(
                    _text(row, "query", where),
                    _text(row, "positive", where),
                    _text(row, "negative", where, False),
                    task_instruction(instruction),
                    where,
                )
            )
    return examples


def read_sts(path: str | Path, min_score: float = 4.0, task: str = "sts") -> list[Example]:
    """STS Benchmark TSV rows (genre, file, year, id, score, sentence1, sentence2) scoring >= ``min_score``."""
    examples, instruction = [], task_instruction(task)
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.rstrip("\n").split("\t")
            where = f"{path}:{number}"
            if len(fields) < 7:
                raise DataError(f"{where}: expected at least 7 tab-separated fields, got {len(fields)}")
            try:
                score = float(fields[4])
            except ValueError as err:
                raise DataError(f"{where}: score {fields[4]!r} is not a number") from err
            if score >= min_score and fields[5].strip() and fields[6].strip():
                examples.append(Example(fields[5].strip(), fields[6].strip(), None, instruction, where))
    return examples


def sts_sentences(path: str | Path) -> Iterator[str]:
    """Both sentences of every row of an STS Benchmark file."""
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            yield from line.rstrip("\n").split("\t")[5:7]
