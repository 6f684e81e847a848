"""Widgets and helpers shared by the pages."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from embedder.instructions import DEFAULT_TASK, TASKS

log = logging.getLogger(__name__)
CUSTOM = "custom…"


@contextmanager
def readable_errors(action: str) -> Iterator[None]:
    """Show a failure inside the block as one readable message (the traceback goes to the log only)."""
    try:
        yield
    except Exception as err:  # the page must survive any failure and say what went wrong
        log.exception("%s failed", action)
        message = str(err) or type(err).__name__
        st.error(f"{action} failed: {message}", icon=":material/error:")


def instruction_picker(key: str, default_task: str = DEFAULT_TASK) -> str:
    """A preset task instruction (the paper's, per task) or one written by the user; applied to queries only."""
    options = [*TASKS, CUSTOM]
    task = st.selectbox("Task instruction", options, index=options.index(default_task), key=f"{key}_task",
                        help="Prepended to the query only (documents are encoded without instruction).")
    if task == CUSTOM:
        return st.text_input("Your instruction", key=f"{key}_custom",
                             placeholder="Given a question, retrieve passages that answer it").strip()
    st.caption(f"Instruct: {TASKS[task]}")
    return TASKS[task]


class ProgressBar:
    """A ``progress(stage, done, total)`` callback drawing a Streamlit progress bar with rate and ETA."""

    def __init__(self, label: str):
        self.bar = st.progress(0.0, text=label)
        self.started = time.monotonic()
        self.stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:  # each stage (model, dataset, documents/queries) has its own clock
            self.stage, self.started = stage, time.monotonic()
        fraction = min(done / total, 1.0) if total else 1.0
        elapsed = time.monotonic() - self.started
        eta = f", about {elapsed * (total - done) / done:.0f}s left" if 0 < done < total else ""
        self.bar.progress(fraction, text=f"{stage}: {done:,}/{total:,}{eta}")

    def done(self, text: str) -> None:
        self.bar.progress(1.0, text=text)


def mode_picker(key: str) -> str | None:
    """Retrieval mode for ``rag.search``: ``None`` (auto: hybrid where the collection has a lexical index)."""
    from rag.search import MODES

    mode = st.radio("Retrieval", ("auto", *MODES), horizontal=True, key=f"{key}-mode",
                    help="auto: hybrid (dense + lexical, fused) where the collection has a lexical index, else dense")
    return None if mode == "auto" else mode
