"""SQL storage of a synthetic-data run (SQLAlchemy 2.x; SQLite under ``$E5_HOME`` by default, any URL).

Every request has a deterministic ``key``; a request is finished once its response and outcome (an
example, a rejection or brainstormed tasks) are committed in the same transaction, so a killed run
restarts without repeating finished requests or duplicating examples.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from embedder.paths import e5_home
from embedder.sql import open_engine, utcnow

PENDING, DONE, FAILED = "pending", "done", "failed"


class Base(DeclarativeBase):
    pass


class Task(Base):
    """A brainstormed task definition; it becomes the instruction of its examples."""

    __tablename__ = "synth_tasks"
    __table_args__ = (UniqueConstraint("category", "norm_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    norm_hash: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int] = mapped_column(ForeignKey("synth_requests.id"))


class Request(Base):
    __tablename__ = "synth_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # brainstorm | example
    category: Mapped[str] = mapped_column(String(32), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("synth_tasks.id"))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    messages: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Response(Base):
    __tablename__ = "synth_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("synth_requests.id"), unique=True)
    model: Mapped[str] = mapped_column(String(128), index=True)
    content: Mapped[str] = mapped_column(Text)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExampleRow(Base):
    __tablename__ = "synth_examples"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("synth_requests.id"), unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(64))
    instruction: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    positive: Mapped[str] = mapped_column(Text)
    negative: Mapped[str | None] = mapped_column(Text)
    exact_hash: Mapped[str] = mapped_column(String(32), unique=True)
    near_hash: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rejection(Base):
    """Why a response gave no example (or no tasks); the raw output stays in its ``Response``."""

    __tablename__ = "synth_rejections"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("synth_requests.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def default_url() -> str:
    return f"sqlite:///{e5_home() / 'synth.db'}"


def open_store(url: str | None = None) -> sessionmaker:
    """A session factory on the database at ``url``, tables created if missing."""
    return sessionmaker(open_engine(url or default_url(), Base.metadata), expire_on_commit=False)
