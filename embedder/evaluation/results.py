"""Benchmark results: a typed record and their SQL store (SQLAlchemy; SQLite at ``$E5_HOME/results.db``).

Any SQLAlchemy URL works (``E5_RESULTS_URL`` or the ``url`` argument), e.g. a shared PostgreSQL.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Float, Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..paths import e5_home
from ..sql import open_engine, utcnow

KINDS = ("beir", "passkey")


@dataclass(frozen=True)
class Result:
    """One (model, dataset) measurement. ``subset`` describes a cut-down dataset (``None``: full);
    ``tokens``/``cost_usd`` are what the model consumed in this run (``None``: not applicable)."""

    kind: str
    model: str
    dataset: str
    split: str
    metrics: dict[str, float]
    subset: str | None = None
    config: dict = field(default_factory=dict)
    wall_s: float = 0.0
    tokens: int | None = None
    cost_usd: float | None = None
    created: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"result kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def dataset_label(self) -> str:
        return f"{self.dataset} [subset {self.subset}]" if self.subset else self.dataset

    def to_dict(self) -> dict:
        """Flat JSON-ready form: metrics at the top level next to model and dataset."""
        record = asdict(self)
        record.update(record.pop("metrics"))
        record["created"] = self.created.isoformat(timespec="seconds")
        record["is_subset"] = self.subset is not None
        return record


class Base(DeclarativeBase):
    pass


class ResultRow(Base):
    __tablename__ = "bench_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    dataset: Mapped[str] = mapped_column(String(200), index=True)
    split: Mapped[str] = mapped_column(String(32))
    subset: Mapped[str | None] = mapped_column(String(100))
    metrics: Mapped[dict] = mapped_column(JSON)
    config: Mapped[dict] = mapped_column(JSON)
    wall_s: Mapped[float] = mapped_column(Float)
    tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def default_url() -> str:
    return os.environ.get("E5_RESULTS_URL") or f"sqlite:///{e5_home() / 'results.db'}"


class ResultStore:
    """Append-only table of results; ``query`` returns the newest first."""

    def __init__(self, url: str | None = None):
        self.engine = open_engine(url or default_url(), Base.metadata)

    def add(self, results: list[Result]) -> None:
        with Session(self.engine) as session, session.begin():  # all or nothing
            session.add_all(ResultRow(**asdict(result)) for result in results)

    def query(
        self,
        kind: str | None = None,
        model: str | None = None,
        dataset: str | None = None,
        limit: int | None = None,
    ) -> list[Result]:
        statement = select(ResultRow).order_by(ResultRow.created.desc(), ResultRow.id.desc())
        for column, value in ((ResultRow.kind, kind), (ResultRow.model, model), (ResultRow.dataset, dataset)):
            if value is not None:
                statement = statement.where(column == value)
        with Session(self.engine) as session:
            rows = session.scalars(statement.limit(limit)).all()
            return [to_result(row) for row in rows]


def to_result(row: ResultRow) -> Result:
    created = (
        row.created if row.created.tzinfo else row.created.replace(tzinfo=timezone.utc)
    )  # SQLite drops tz
    return Result(
        kind=row.kind,
        model=row.model,
        dataset=row.dataset,
        split=row.split,
        metrics=row.metrics,
        subset=row.subset,
        config=row.config,
        wall_s=row.wall_s,
        tokens=row.tokens,
        cost_usd=row.cost_usd,
        created=created,
    )
