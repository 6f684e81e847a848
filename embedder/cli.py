"""Commands of this package for the ``e5`` CLI: models, embed, serve (each one library function)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .console import fail, open_encoder, require_extra, run_or_fail

if TYPE_CHECKING:
    from fastapi import FastAPI

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="model spec; see `e5 models`")]
AdapterOpt = Annotated[str | None, typer.Option(help="LoRA adapter folder (LLM models)")]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    for command in (models, embed, serve):
        app.command()(command)


def models() -> None:
    """List the model specs accepted by --model everywhere."""
    from .registry import MODELS

    for spec, description in MODELS.items():
        typer.echo(f"{spec:<20} {description}")


def embed(
    input: Annotated[Path | None, typer.Argument(help="file with one text per line (default: stdin)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here; .npy for NumPy")] = None,
    model: ModelOpt = "default",
    adapter: AdapterOpt = None,
    query: Annotated[bool, typer.Option("--query", help="encode as queries (with --instruction)")] = False,
    instruction: Annotated[str | None, typer.Option(help="query instruction (implies --query)")] = None,
    task: Annotated[str | None, typer.Option(help="take the instruction of a known task")] = None,
    max_length: Annotated[int | None, typer.Option(help="max tokens per text")] = None,
) -> None:
    """Embed one text per line from a file or stdin; print JSONL or write .npy."""
    from .embed import embed_texts, read_lines, write_vectors
    from .instructions import resolve_instruction

    if input is not None and not input.is_file():
        fail(f"input file {input} does not exist")
    texts = read_lines(input.open(encoding="utf-8") if input else sys.stdin)
    if not texts:
        fail("no input texts (one text per line)")
    if task or query or instruction:
        instruction = run_or_fail(resolve_instruction, instruction, task)
    encoder = open_encoder(model, adapter=adapter, max_length=max_length)
    write_vectors(embed_texts(encoder, texts, instruction=instruction), output, sys.stdout)


def serve(
    model: ModelOpt = "default",
    adapter: AdapterOpt = None,
    host: Annotated[str, typer.Option(help="bind address (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    chat_model: Annotated[
        str | None,
        typer.Option(
            help="causal LM for /v1/chat/completions (default: the packaged SmolLM2; 'none' to disable)"
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="E5_API_KEY",
            show_default=False,
            help="require 'Authorization: Bearer KEY' on every request",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="allow a non-loopback --host without an API key")
    ] = False,
) -> None:
    """Serve an encoder over an OpenAI-compatible HTTP API (/v1/embeddings, /v1/models, /v1/chat/completions)."""
    require_extra("fastapi", "server", "e5 serve")
    require_extra("uvicorn", "server", "e5 serve")
    import uvicorn

    from .serving.server import check_exposure, create_app

    run_or_fail(check_exposure, host, api_key, insecure)
    encoder = open_encoder(model, adapter=adapter)
    api = create_app(encoder, model_name=model, extra_routes=chat_routes(chat_model), api_key=api_key)
    uvicorn.run(api, host=host, port=port)


def chat_routes(chat_model: str | None) -> Callable[[FastAPI], None] | None:
    """Routes for the local chat endpoint, unless disabled with ``none``."""
    if chat_model == "none":
        return None
    from .serving.chat import add_chat_routes

    return lambda api: add_chat_routes(api, chat_model)
