"""The root ``e5`` command: every package's commands on one typer app (the one module that knows them all).

Each package keeps its commands in its own ``cli.py`` with a ``register(app)``; the app calls the same
library functions as the commands.
"""

from __future__ import annotations

import typer

import embedder.cli
import embedder.evaluation.cli
import rag.cli
import trainer.cli
import trainer.synth.cli

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="LLM-based text embeddings and retrieval (E5-mistral recipe).",
)

for package_cli in (embedder.cli, rag.cli, trainer.cli, trainer.synth.cli, embedder.evaluation.cli):
    package_cli.register(app)

if __name__ == "__main__":
    app()
