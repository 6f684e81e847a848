"""User errors on the command line: one red line and exit code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from .protocol import Encoder

P = ParamSpec("P")
T = TypeVar("T")

USER_ERRORS = (FileNotFoundError, ValueError, ImportError)  # bad input or setup, not a bug


def fail(message: str) -> NoReturn:
    """Print a one-line error and exit non-zero."""
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def run_or_fail(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call a library function, turning user errors into a one-line message."""
    try:
        return function(*args, **kwargs)
    except USER_ERRORS as err:
        fail(str(err))


def require_extra(module: str, extra: str, command: str) -> None:
    """Fail with the pip line to run when a command's optional dependency (a pyproject extra) is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        fail(f'{command} needs {module}: pip install "e5-embed[{extra}]" (or pip install {module})')


def open_encoder(model: str, **overrides: Any) -> Encoder:
    """``load_encoder`` for a command: a bad spec or missing model is a one-line error."""
    from .registry import load_encoder

    return run_or_fail(load_encoder, model, **overrides)
