"""Widgets and helpers shared by the pages."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from embedder.console import USER_ERRORS
from embedder.instructions import DEFAULT_TASK, TASKS
from rag.errors import RagError
from rag.indexer import format_seconds

log = logging.getLogger(__name__)
CUSTOM = "custom…"
USER_ERRORS = (*USER_ERRORS, OSError, RagError)  # also paths outside the allowed folders (PermissionError)


@contextmanager
def readable_errors(action: str) -> Iterator[None]:
    """Show a failure inside the block as one readable message (the traceback goes to the log only)."""
    try:
        yield
    except Exception as err:  # the page must survive any failure and say what went wrong
        if isinstance(err, USER_ERRORS):
            log.warning("%s failed: %s", action, err)  # bad input: one line, no traceback
        else:
            log.exception("%s failed", action)
        message = str(err) or type(err).__name__
        st.error(f"{action} failed: {message}", icon=":material/error:")


def instruction_picker(key: str, default_task: str = DEFAULT_TASK) -> str:
    """A preset task instruction (the paper's, per task) or one written by the user; applied to queries only."""
    options = [*TASKS, CUSTOM]
    task = st.selectbox(
        "Task instruction",
        options,
        index=options.index(default_task),
        key=f"{key}_task",
        help="Prepended to the query only (documents are encoded without instruction).",
    )
    if task == CUSTOM:
        return st.text_input(
            "Your instruction",
            key=f"{key}_custom",
            placeholder="Given a question, retrieve passages that answer it",
        ).strip()
    st.caption(f"Instruct: {TASKS[task]}")
    return TASKS[task]


class ProgressBar:
    """A ``progress(stage, done, total)`` callback drawing a Streamlit progress bar with rate and ETA.

    Each stage has its own clock, started at its first report; the time left is estimated from the
    items done since then, so no estimate is shown until a second report of the stage arrives."""

    def __init__(self, label: str):
        self.bar = st.progress(0.0, text=label)
        self.stage: str | None = None
        self.started, self.first_done = time.monotonic(), 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.stage, self.started, self.first_done = stage, time.monotonic(), done
        fraction = min(done / total, 1.0) if total else 1.0
        self.bar.progress(
            fraction,
            text=f"{stage}: {done:,}/{total:,}{time_left(self.started, self.first_done, done, total)}",
        )

    def done(self, text: str) -> None:
        self.bar.progress(1.0, text=text)


def mode_picker(key: str) -> str | None:
    """Retrieval mode for ``rag.search``: ``None`` (auto: hybrid where the collection has a lexical index)."""
    from rag.search import MODES

    mode = st.radio(
        "Retrieval",
        ("auto", *MODES),
        horizontal=True,
        key=f"{key}-mode",
        help="auto: hybrid (dense + lexical, fused) where the collection has a lexical index, else dense",
    )
    return None if mode == "auto" else mode


def time_left(started: float, first_done: int, done: int, total: int, now: float | None = None) -> str:
    """``", about 40 s left"`` from the rate since the stage's first report; ``""`` before there is one."""
    if done >= total:
        return ""
    elapsed = (time.monotonic() if now is None else now) - started
    if done <= first_done or elapsed <= 0:
        return ", estimating the time left…"
    return f", about {format_seconds(elapsed * (total - done) / (done - first_done))} left"
