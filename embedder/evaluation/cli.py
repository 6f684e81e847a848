"""``e5 bench ...``: BEIR, passkey and comparison benchmarks (see ``embedder.evaluation``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..console import open_encoder, require_extra, run_or_fail

if TYPE_CHECKING:
    from .results import Result

bench = typer.Typer(no_args_is_help=True, help="Benchmarks: BEIR folders, personalized passkey, comparisons.")

PathsArg = Annotated[list[Path], typer.Argument(help="BEIR folders (corpus.jsonl, queries.jsonl, qrels/)")]
ModelsOpt = Annotated[
    list[str],
    typer.Option(
        "--model",
        "-m",
        help="model spec (repeatable); `bm25` and `hybrid:<spec>` (BM25 fused with that encoder) too",
    ),
]
SplitOpt = Annotated[str, typer.Option(help="qrels split to evaluate")]
MaxQueriesOpt = Annotated[int | None, typer.Option(help="seeded subset: at most N judged queries")]
MaxDocsOpt = Annotated[int | None, typer.Option(help="seeded subset: relevant docs + random others up to M")]
SeedOpt = Annotated[int, typer.Option(help="subset seed")]
InstructionOpt = Annotated[
    str | None, typer.Option(help="query instruction (default: the dataset's paper one)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.add_typer(bench, name="bench")
    app.command("compare-query")(compare_query_command)


def print_results(results: list[Result], as_json: bool, title: str) -> None:
    from rich.console import Console

    from .report import results_table

    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        Console().print(results_table(results, title=title))


@bench.command("beir")
def beir_command(
    paths: PathsArg,
    model: ModelsOpt = ["default"],  # noqa: B006 (typer reads the default; never mutated)
    split: SplitOpt = "test",
    max_queries: MaxQueriesOpt = None,
    max_docs: MaxDocsOpt = None,
    seed: SeedOpt = 0,
    instruction: InstructionOpt = None,
    as_json: JsonOpt = False,
    save: Annotated[bool, typer.Option(help="store results in the results database")] = True,
    max_length: Annotated[int | None, typer.Option(help="max tokens per text for LLM models")] = None,
) -> None:
    """nDCG@10, Recall@100, MRR@10 and MAP of each model on each BEIR folder."""
    from .runner import run_beir

    results = run_or_fail(
        run_beir,
        paths,
        model,
        split=split,
        max_queries=max_queries,
        max_docs=max_docs,
        seed=seed,
        instruction=instruction,
        save=save,
        max_length=max_length,
    )
    print_results(results, as_json, title=f"BEIR ({split})")


@bench.command("compare")
def compare_command(
    paths: PathsArg,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="model spec (repeatable; default: bm25, minilm, base, default "
            "and OpenAI's models when OPENAI_API_KEY is set)",
        ),
    ] = None,
    split: SplitOpt = "test",
    max_queries: MaxQueriesOpt = None,
    max_docs: MaxDocsOpt = None,
    seed: SeedOpt = 0,
    instruction: InstructionOpt = None,
    metric: Annotated[str, typer.Option(help="metric for the table and chart")] = "ndcg_at_10",
    chart: Annotated[Path | None, typer.Option(help="bar chart PNG (default: $E5_HOME/figures/)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Several encoders (API models included) on the same BEIR sets: table, bar chart, cost, wall time."""
    from rich.console import Console

    from .compare import compare, comparison_table

    comparison = run_or_fail(
        compare,
        paths,
        model,
        split=split,
        max_queries=max_queries,
        max_docs=max_docs,
        seed=seed,
        instruction=instruction,
        metric=metric,
        chart=chart,
    )
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in comparison.results], indent=2))
        return
    Console().print(comparison_table(comparison))
    typer.echo(f"chart: {comparison.chart}")


@bench.command("mteb")
def mteb_command(
    path: Annotated[Path, typer.Argument(help="a BEIR folder")],
    model: Annotated[str, typer.Option("--model", "-m", help="model spec")] = "default",
    split: SplitOpt = "test",
    max_queries: MaxQueriesOpt = None,
    max_docs: MaxDocsOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Score a BEIR folder through mteb itself (its evaluator, our encoder wrapper); prints mteb's scores."""
    require_extra("mteb", "bench", "e5 bench mteb")
    from ..datasets import load_beir, subset
    from .mteb_wrapper import run_mteb

    dataset = run_or_fail(subset, run_or_fail(load_beir, path, split), max_queries, max_docs, seed)
    scores = run_mteb(open_encoder(model), dataset)
    keys = ("ndcg_at_10", "recall_at_100", "mrr_at_10", "map_at_100", "main_score")
    typer.echo(
        json.dumps({"model": model, "dataset": dataset.label, **{k: scores[k] for k in keys}}, indent=2)
    )


@bench.command("results")
def results_command(
    kind: Annotated[str | None, typer.Option(help="beir or passkey")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="only this model name")] = None,
    dataset: Annotated[str | None, typer.Option(help="only this dataset")] = None,
    limit: Annotated[int | None, typer.Option(help="newest N results")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or markdown")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the export here")] = None,
) -> None:
    """Show or export stored results (newest first)."""
    from .report import export_results
    from .results import ResultStore

    results = ResultStore().query(kind=kind, model=model, dataset=dataset, limit=limit)
    if fmt == "table":
        print_results(results, False, title="stored results")
        return
    text = run_or_fail(export_results, results, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(results)} results to {output}")
    else:
        typer.echo(text, nl=False)


@bench.command("passkey")
def passkey_command(
    model: Annotated[str, typer.Option("--model", "-m", help="model spec")] = "default",
    lengths: Annotated[str, typer.Option(help="document lengths in tokens, e.g. 256,512,1k,32k")] = "256,512",
    candidates: Annotated[int, typer.Option(help="documents (persons) per length")] = 100,
    seed: SeedOpt = 0,
    rope_theta: Annotated[float | None, typer.Option(help="override the RoPE base (LLMs)")] = None,
    sliding_window: Annotated[
        int | None, typer.Option(help="attention sliding window (where supported)")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="PNG of accuracy vs length (default: $E5_HOME/figures/)")
    ] = None,
    as_json: JsonOpt = False,
    save: Annotated[bool, typer.Option(help="store results in the results database")] = True,
) -> None:
    """Personalized passkey retrieval: top-1 accuracy per document length."""
    from rich.console import Console

    from .passkey import apply_long_context, parse_lengths, passkey_table, plot_passkey, run_passkey
    from .report import figure_path
    from .results import ResultStore

    sizes = run_or_fail(parse_lengths, lengths)
    encoder = open_encoder(model)
    run_or_fail(apply_long_context, encoder, rope_theta=rope_theta, sliding_window=sliding_window)
    results = run_or_fail(run_passkey, encoder, sizes, candidates=candidates, seed=seed)
    if save:
        ResultStore().add(results)
    image = plot_passkey(results, plot or figure_path(f"passkey-{encoder.name}"))
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        Console().print(passkey_table(results))
        typer.echo(f"plot: {image}")


def compare_query_command(
    path: Annotated[Path, typer.Argument(help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")],
    query: Annotated[str, typer.Argument(help="the query")],
    model: Annotated[list[str], typer.Option("--model", "-m", help="model spec (repeatable); `bm25` too")] = [  # noqa: B006
        "minilm",
        "bm25",
    ],  # noqa: B006
    k: Annotated[int, typer.Option("-k", help="documents per model", min=1)] = 5,
    max_docs: Annotated[int, typer.Option(help="seeded subset of exactly this many documents")] = 200,
    split: SplitOpt = "test",
    seed: SeedOpt = 0,
    instruction: InstructionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One query through several models over the same corpus: each model's top-k side by side."""
    from dataclasses import asdict

    from ..datasets import load_beir, sized_subset
    from ..registry import load_model
    from .agreement import overlap_table
    from .query import compare_query, no_hit_reason

    dataset = run_or_fail(sized_subset, run_or_fail(load_beir, path, split), max_docs, seed=seed)
    models = [run_or_fail(load_model, spec) for spec in model]
    runs = run_or_fail(
        compare_query, dataset, models, query, instruction or dataset.default_instruction(), k=k
    )
    if as_json:
        typer.echo(json.dumps([asdict(run) for run in runs], indent=2))
        return
    for run in runs:
        how = (
            "lexical"
            if run.lexical
            else f"{run.encoded_docs} documents encoded"
            if run.encoded_docs
            else "cached document vectors"
        )
        typer.echo(f"{run.model} ({run.wall_s:.2f}s, {how}; {len(dataset.corpus)} documents)")
        if not run.ids:
            typer.echo(f"  {no_hit_reason(run)}")
        for rank, doc_id in enumerate(run.ids, 1):
            title, text = dataset.corpus[doc_id]
            typer.echo(f"  {rank:>2}. {run.scores[doc_id]:.3f}  {doc_id}  {(title or text)[:70]}")
    if len(runs) > 1:
        table = overlap_table({run.model: run.ids for run in runs})
        typer.echo(
            "agreement (share of top-k in common): "
            + "; ".join(
                f"{a} / {b} {table[a][b]:.0%}" for i, a in enumerate(table) for b in list(table)[i + 1 :]
            )
        )
