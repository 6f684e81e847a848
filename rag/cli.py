"""Commands of this package for the ``e5`` CLI: index, search, ask, collections, rm, demo.

Each command calls one library function (the Streamlit app calls the same ones); heavy imports
stay inside the commands so that ``e5 --help`` is fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from embedder.console import fail, open_encoder, run_or_fail
from embedder.fusion import FusionConfig, fusion_for

if TYPE_CHECKING:
    from embedder.protocol import Encoder

    from .collection import Collection

CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="collection name")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="model spec (default: the collection's, else 'default'); see `e5 models`"
    ),
]
KOpt = Annotated[int, typer.Option("-k", help="number of passages", min=1)]
InstructionOpt = Annotated[str | None, typer.Option(help="query instruction (overrides --task)")]
TaskOpt = Annotated[
    str | None, typer.Option(help="take the query instruction of a known task (default web-search)")
]
PathGlobOpt = Annotated[
    str | None, typer.Option("--path", help="only documents whose relative path matches this glob")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        help="dense, lexical or hybrid (default: hybrid where the collection has a lexical index, else dense)"
    ),
]
FusionOpt = Annotated[
    str, typer.Option(help="hybrid fusion: rrf (reciprocal rank) or linear (normalised scores)")
]
AlphaOpt = Annotated[
    float | None,
    typer.Option(
        help="linear fusion: weight of the dense side, in [0, 1] (default: the encoder's, else 0.4)"
    ),
]
RrfKOpt = Annotated[int, typer.Option(help="rrf fusion: the k in 1 / (k + rank)")]
CandidatesOpt = Annotated[int, typer.Option(help="hybrid: results taken from each side before fusion")]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    for command in (index, search, ask, collections, rm, demo):
        app.command()(command)


def encoder_for(name: str, model: str | None, *, new: bool = False) -> tuple[str, Encoder]:
    """(spec, encoder): ``--model`` or the spec the collection was built with (``default`` for a new one).

    Unless ``new`` is allowed, an unknown collection fails here, before any model is loaded.
    """

    from .catalog import stored_spec
    from .errors import CollectionNotFound

    try:
        stored = stored_spec(name)
    except CollectionNotFound as err:
        if not new:
            fail(str(err))
        stored = None
    spec = model or stored or "default"
    return spec, open_encoder(spec)


def fusion_config(
    collection: Collection, fusion: str, alpha: float | None, rrf_k: int, candidates: int
) -> FusionConfig:
    """The command's fusion settings; without ``--alpha``, the collection encoder's own dense weight."""
    return run_or_fail(
        fusion_for, collection.encoder, method=fusion, alpha=alpha, rrf_k=rrf_k, candidates=candidates
    )


def open_for_queries(name: str, model: str | None) -> Collection:
    """An existing collection with its encoder loaded (or a one-line error)."""
    from .collection import open_collection

    return run_or_fail(open_collection, name, encoder_for(name, model)[1])


def index(
    path: Annotated[Path, typer.Argument(help="folder to index (recursively)")],
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="default: the folder's name")
    ] = None,
    model: ModelOpt = None,
    exclude: Annotated[list[str] | None, typer.Option(help="glob of paths to skip (repeatable)")] = None,
    hidden: Annotated[bool, typer.Option("--hidden", help="include hidden files and folders")] = False,
    max_file_mb: Annotated[float, typer.Option(help="skip files larger than this")] = 5.0,
    chunk_tokens: Annotated[
        int | None, typer.Option(help="tokens per chunk (new collections; default 240)")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option(help="tokens shared by neighbouring chunks (default an eighth of a chunk)")
    ] = None,
    factory: Annotated[
        str | None, typer.Option(help="FAISS factory string, e.g. Flat, HNSW32, IVF1024,PQ48,RFlat")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Index a folder into a collection (incremental: only new or changed files are encoded)."""
    from .config import IndexConfig, ScanConfig
    from .indexer import check_root, index_folder

    root = run_or_fail(check_root, path)
    name = collection or root.name
    given = {
        key: value
        for key, value in (("chunk_tokens", chunk_tokens), ("overlap", overlap), ("factory", factory))
        if value is not None
    }
    config = run_or_fail(IndexConfig, **given) if given else None
    scan = run_or_fail(
        ScanConfig,
        max_file_bytes=int(max_file_mb * 1e6),
        excludes=tuple(exclude or ()),
        include_hidden=hidden,
    )
    spec, encoder = encoder_for(name, model, new=True)
    report = run_or_fail(
        index_folder,
        root,
        encoder,
        collection=name,
        config=config,
        scan=scan,
        spec=spec,
        progress=not quiet,
        echo=lambda line: typer.echo(line, err=True),
    )
    for skipped in report.skipped:
        typer.echo(f"skipped {skipped.rel}: {skipped.reason}", err=True)
    for folder in report.hidden:
        typer.echo(f"skipped {folder}: hidden folder (--hidden includes it)", err=True)
    for rel, note in report.notes:
        typer.echo(f"note {rel}: {note}", err=True)
    for label, paths in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        for rel in paths:
            typer.echo(f"{label} {rel}")
    typer.echo(report.summary())


def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    collection: CollectionOpt,
    k: KOpt = 10,
    instruction: InstructionOpt = None,
    task: TaskOpt = None,
    path: PathGlobOpt = None,
    model: ModelOpt = None,
    mode: ModeOpt = None,
    fusion: FusionOpt = FusionConfig.method,
    alpha: AlphaOpt = None,
    rrf_k: RrfKOpt = FusionConfig.rrf_k,
    candidates: CandidatesOpt = FusionConfig.candidates,
    as_json: JsonOpt = False,
) -> None:
    """Search a collection: dense (the query encoded with the task instruction), lexical, or both fused."""
    from .search import search as search_collection

    opened = open_for_queries(collection, model)
    settings = fusion_config(opened, fusion, alpha, rrf_k, candidates)
    hits = run_or_fail(
        search_collection,
        opened,
        query,
        k=k,
        instruction=instruction or None,
        task=None if instruction else task,
        path_glob=path,
        mode=mode,
        fusion=settings,
    )
    if as_json:
        typer.echo(json.dumps([hit.to_dict() for hit in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        typer.echo("no results")
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank:>2}. {hit.score:.3f}  {hit.path}  [{hit.position}; {hit.found_by}]  {hit.title}")
        typer.echo(f"    {hit.snippet}")


def ask(
    question: Annotated[str, typer.Argument(help="question to answer from the collection")],
    collection: CollectionOpt,
    k: KOpt = 5,
    task: TaskOpt = None,
    path: PathGlobOpt = None,
    model: ModelOpt = None,
    mode: ModeOpt = None,
    fusion: FusionOpt = FusionConfig.method,
    alpha: AlphaOpt = None,
    rrf_k: RrfKOpt = FusionConfig.rrf_k,
    candidates: CandidatesOpt = FusionConfig.candidates,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL)")
    ] = None,
    chat_model: Annotated[
        str | None, typer.Option(help="chat model (default $E5_CHAT_MODEL or gpt-4o-mini)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question with an LLM, citing the retrieved passages by number."""
    from .answer import ChatConfig
    from .answer import ask as ask_collection

    opened = open_for_queries(collection, model)
    settings = fusion_config(opened, fusion, alpha, rrf_k, candidates)
    chat = ChatConfig.from_env(base_url=base_url, model=chat_model)
    answer = run_or_fail(
        ask_collection,
        opened,
        question,
        k=k,
        chat=chat,
        task=task,
        path_glob=path,
        mode=mode,
        fusion=settings,
    )
    if as_json:
        payload = {
            "question": question,
            "answer": answer.text,
            "note": answer.note,
            "passages": [hit.to_dict() for hit in answer.hits],
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if answer.note:
        typer.secho(answer.note, fg="yellow", err=True)
    if answer.text:
        typer.echo(answer.text + "\n")
    for number, hit in enumerate(answer.hits, 1):
        typer.echo(
            f"[{number}] {hit.path} ({hit.position}, score {hit.score:.3f}, {hit.found_by}): {hit.snippet}"
        )


def collections(as_json: JsonOpt = False) -> None:
    """List collections with their model, size and FAISS index."""
    from dataclasses import asdict

    from .catalog import list_collections

    infos = list_collections()
    if as_json:
        typer.echo(json.dumps([asdict(info) for info in infos], indent=2, default=str))
        return
    if not infos:
        typer.echo("no collections yet; create one with `e5 index FOLDER`")
    for info in infos:
        typer.echo(
            f"{info.name:<20} {info.documents:>6} docs {info.chunks:>8} chunks  {info.model} ({info.dim}-d, "
            f"{info.factory}, {info.index_bytes / 1e6:.1f} MB)  {info.root or ''}"
        )


def rm(
    collection: Annotated[str, typer.Argument(help="collection to delete from")],
    path: Annotated[
        str | None, typer.Argument(help="only this document, folder or glob (else everything)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Delete a collection, or the documents at a path inside it."""
    from .catalog import remove_collection, remove_paths

    if path is not None:
        for rel in run_or_fail(remove_paths, collection, path):
            typer.echo(f"removed {rel}")
        return
    if not yes:
        typer.confirm(f"delete collection {collection!r} and its vectors?", abort=True)
    count = run_or_fail(remove_collection, collection)
    typer.echo(f"deleted collection {collection!r} ({count} documents)")


def demo(
    model: Annotated[str, typer.Option("--model", "-m", help="model spec")] = "default",
    check: Annotated[
        bool,
        typer.Option("--check", help="then print the rank of each demo question's expected passage (top 5)"),
    ] = False,
) -> None:
    """Build the demo collection from this project's README and docs (a no-op when up to date)."""
    from .collection import open_collection
    from .demo import DEMO_COLLECTION, build_demo_collection, question_ranks

    report = run_or_fail(build_demo_collection, model, echo=lambda line: typer.echo(line, err=True))
    typer.echo(report.summary())
    if check:
        collection = run_or_fail(open_collection, DEMO_COLLECTION, open_encoder(model))
        for question, rank in question_ranks(collection):
            typer.echo(f"{'-' if rank is None else rank:>2}  {question.question}  ({question.path})")
