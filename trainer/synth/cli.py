"""``e5 synth run|stats|export``: synthetic training data from any OpenAI-compatible chat endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embedder.console import fail

synth = typer.Typer(no_args_is_help=True, help="Synthetic training data from an LLM (the paper's recipe).")

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: sqlite in $E5_HOME)")]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.add_typer(synth, name="synth")


def split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@synth.command()
def run(
    n: Annotated[int, typer.Option("--n", help="example requests, split evenly over --types")] = 60,
    types: Annotated[
        str, typer.Option(help="comma-separated: short-long,long-short,short-short,long-long,sts,bitext")
    ] = "short-long,long-short,short-short,long-long,sts,bitext",
    languages: Annotated[
        str, typer.Option(help="'default' (English-heavy), 'paper' (93), 'en', or 'English:0.8,German:0.2'")
    ] = "default",
    base_url: Annotated[
        str, typer.Option(envvar="OPENAI_BASE_URL", help="chat endpoint")
    ] = "http://127.0.0.1:8000/v1",
    model: Annotated[str, typer.Option("--model", "-m", help="model name at the endpoint")] = "default",
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_tokens: int = 1024,
    concurrency: Annotated[int, typer.Option(help="requests in flight")] = 4,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 120.0,
    retries: Annotated[int, typer.Option(help="retries with exponential backoff on 429/5xx/timeouts")] = 5,
    response_format: Annotated[str, typer.Option(help="auto | json | off")] = "auto",
    price_in: Annotated[
        float | None, typer.Option(help="USD per 1M input tokens (overrides the table)")
    ] = None,
    price_out: Annotated[float | None, typer.Option(help="USD per 1M output tokens")] = None,
    tasks_per_brainstorm: int = 20,
    examples_per_task: int = 1,
    seed: int = 0,
    db: DbOpt = None,
) -> None:
    """Generate examples (resumable: rerun the same command after an interruption). Key: $OPENAI_API_KEY."""

    from .config import EndpointConfig, SynthConfig
    from .languages import parse_languages
    from .pipeline import run_synth

    try:
        price = (price_in or 0.0, price_out or 0.0) if price_in is not None or price_out is not None else None
        endpoint = EndpointConfig(
            base_url=base_url,
            model=model,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=retries,
            response_format=response_format,
            price=price,
        )
        config = SynthConfig(
            n=n,
            types=split(types),
            languages=parse_languages(languages),
            seed=seed,
            tasks_per_brainstorm=tasks_per_brainstorm,
            examples_per_task=examples_per_task,
            endpoint=endpoint,
        )
    except ValueError as err:
        fail(str(err))
    summary = run_synth(config, db)
    typer.echo(
        f"sent {summary.sent} requests in {summary.seconds:.0f}s: {summary.accepted} examples accepted, "
        f"{summary.rejected} rejected, {summary.failed} failed (rerun to retry failures)"
    )


@synth.command()
def stats(db: DbOpt = None) -> None:
    """Counts by type, language and rejection reason; tokens and estimated cost per model."""
    from rich.console import Console
    from rich.table import Table

    from .report import synth_stats

    result = synth_stats(db)
    console = Console()
    for title, counts in (
        ("requests", result.requests),
        ("examples by type", result.by_type),
        ("examples by language", result.by_language),
        ("rejections", result.rejections),
    ):
        table = Table(title=title)
        table.add_column("")
        table.add_column("count", justify="right")
        for name, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            table.add_row(name, str(count))
        console.print(table)
    usage = Table("model", "responses", "prompt tokens", "completion tokens", "cost (USD)", title="usage")
    for u in result.usage:
        usage.add_row(
            u.model, str(u.responses), str(u.prompt_tokens), str(u.completion_tokens), f"{u.cost_usd:.4f}"
        )
    console.print(usage)
    console.print(
        f"accepted {result.accepted} examples; acceptance rate {result.acceptance_rate:.1%}; "
        f"{result.tokens_per_example:.0f} tokens per accepted example"
    )


@synth.command()
def export(
    output: Annotated[Path, typer.Argument(help="JSONL file to write")],
    types: Annotated[str, typer.Option(help="only these types (comma-separated)")] = "",
    db: DbOpt = None,
) -> None:
    """Write accepted examples as the trainer's JSONL (query, positive, negative, instruction, type, language)."""

    from .report import export_jsonl

    if not output.parent.is_dir():
        fail(f"folder {output.parent} does not exist")
    count = export_jsonl(output, db, split(types))
    typer.echo(f"wrote {count} examples to {output}")
