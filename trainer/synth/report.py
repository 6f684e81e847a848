"""Reading a synthetic-data database back: counts for audit (``e5 synth stats``) and JSONL export."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from .store import DONE, ExampleRow, Rejection, Request, Response, open_store


@dataclass(frozen=True)
class ModelUsage:
    model: str
    responses: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class SynthStats:
    requests: dict[str, int]  # "<kind> <status>" -> count
    by_type: dict[str, int]
    by_language: dict[str, int]
    rejections: dict[str, int]  # reason -> count
    usage: list[ModelUsage]

    @property
    def accepted(self) -> int:
        return sum(self.by_type.values())

    @property
    def acceptance_rate(self) -> float:
        """Accepted examples per finished example request."""
        finished = self.requests.get(f"example {DONE}", 0)
        return self.accepted / finished if finished else 0.0

    @property
    def tokens_per_example(self) -> float:
        """All tokens spent (brainstorms and rejected replies included) per accepted example."""
        total = sum(u.prompt_tokens + u.completion_tokens for u in self.usage)
        return total / self.accepted if self.accepted else 0.0


def synth_stats(db_url: str | None = None) -> SynthStats:
    sessions = open_store(db_url)
    with sessions() as s:

        def grouped(*columns):
            return {
                " ".join(map(str, row[:-1])): row[-1]
                for row in s.execute(select(*columns, func.count()).group_by(*columns))
            }

        usage = [
            ModelUsage(*row)
            for row in s.execute(
                select(
                    Response.model,
                    func.count(),
                    func.sum(Response.prompt_tokens),
                    func.sum(Response.completion_tokens),
                    func.sum(Response.cost_usd),
                ).group_by(Response.model)
            )
        ]
        return SynthStats(
            requests=grouped(Request.kind, Request.status),
            by_type=grouped(ExampleRow.category),
            by_language=grouped(ExampleRow.language),
            rejections=grouped(Rejection.reason),
            usage=usage,
        )


def export_jsonl(path: str | Path, db_url: str | None = None, types: tuple[str, ...] = ()) -> int:
    """Write accepted examples as the trainer's JSONL (query, positive, negative when there is one,
    instruction, type, language); returns how many. The file is replaced only once complete."""
    path = Path(path)
    query = select(ExampleRow).order_by(ExampleRow.id)
    if types:
        query = query.where(ExampleRow.category.in_(types))
    partial = path.with_name(f".{path.name}.partial")
    count = 0
    with open_store(db_url)() as session, partial.open("w", encoding="utf-8") as out:
        for example in session.scalars(query):
            out.write(json.dumps(to_record(example), ensure_ascii=False) + "\n")
            count += 1
    os.replace(partial, path)
    return count


def to_record(example: ExampleRow) -> dict:
    record = {
        "query": example.query,
        "positive": example.positive,
        "negative": example.negative,
        "instruction": example.instruction,
        "type": example.category,
        "language": example.language,
    }
    if record["negative"] is None:
        del record["negative"]
    return record
