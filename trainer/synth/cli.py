"""Commands of this package for the ``e5`` CLI (see ``embedder.cli``)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
