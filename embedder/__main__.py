"""``python -m embedder`` is the ``e5`` command."""

from .cli import app

app()
