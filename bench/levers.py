"""Training levers, measured on the dev suite: the record of what was tried, quality against cost.

Every row is scored on five dev sets, or on those ``--sets`` names (never a test split: these figures
choose the recipe): NFCorpus ``dev`` (seeded subset, 100 queries, at most 2,000 documents); the SciFact
train queries the recipe holds out (its ``holdout_seed`` fixes the slice; 300 documents); STS-B ``dev``
(Spearman x100 of the cosine of the two sentences' vectors, both encoded as queries with the STS
instruction, the paper's symmetric protocol; MiniLM ignores instructions); WikiQA and TrecQA ``dev`` (each
file's distinct queries against every sentence in it). Retrieval figures are nDCG@10 x100. ``encode s``
is the wall time over the sets scored (model loading excluded); texts are cut to ``--max-length`` tokens
(LLMs).

Rows: the ``--models`` baselines (BM25, all-MiniLM-L6-v2), the zero-shot base at each depth and
template with ``--zero-shot`` (slow; ``--base`` names the LLM specs, e.g. ``base,gemma``), each
``--adapter NAME=DIR`` (on the base its ``embedder.json`` names; ``examples seen`` and ``train wall``
from ``DIR/levers.json``: ``{"examples_seen": N, "train_wall_min": M}``), and the rows of each
``--record FILE`` (JSON or TOML, ``[[levers]]`` with ``lever, model, scores = {nfcorpus, scifact, stsb,
wikiqa, trecqa}, examples_seen, train_wall_min, encode_s, notes``), so measured and negative results
stay in the table. ``--write-record FILE`` saves this run's rows in that format.

    python bench/levers.py                                   # BM25 and MiniLM only
    python bench/levers.py --models bm25,minilm,default --record docs/levers.toml
    python bench/levers.py --models "" --adapter stage3=runs/default-cpu-distill/best --write-record stage3.json
    python bench/levers.py --models "" --zero-shot --layers 6,12,18,30 --templates paper,prompteol
    python bench/levers.py --models "" --zero-shot --base gemma --layers 18,12,9 \
        --templates prompteol,paper --sets scifact
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import tomllib

from embedder.datasets import BeirDataset, load_beir, subset
from embedder.evaluation.devsets import StsPairs, pairs_retrieval_set, read_sts_pairs, sts_spearman
from embedder.evaluation.retrieval import Retriever, evaluate_encoder
from embedder.loading import adapter_config
from embedder.protocol import Encoder
from embedder.registry import load_encoder, load_model
from trainer.config import load_config
from trainer.dev import holdout_dataset

SETS = {
    "nfcorpus": "NFCorpus dev",
    "scifact": "SciFact hold-out",
    "stsb": "STS-B dev",
    "wikiqa": "WikiQA dev",
    "trecqa": "TrecQA dev",
}
BASELINES = {"bm25": "baseline (lexical)", "minilm": "baseline (all-MiniLM-L6-v2)"}
DATA = Path("../shared/data")
PARTIAL = "\\*"


@dataclass(frozen=True)
class LeverRow:
    """One lever as measured: dev scores (x100) by ``SETS`` key, what training it took, what encoding costs."""

    lever: str
    model: str
    scores: dict[str, float]
    examples_seen: int | None = None
    train_wall_min: float | None = None
    encode_s: float | None = None
    notes: str = ""

    def mean(self) -> float | None:
        return sum(self.scores.values()) / len(self.scores) if self.scores else None


@dataclass(frozen=True)
class DevSuite:
    """The retrieval dev sets by ``SETS`` key, each with its query instruction (``None``: the dataset's), and
    STS-B (``None`` when not chosen)."""

    retrieval: dict[str, tuple[BeirDataset, str | None]]
    sts: StsPairs | None

    def describe(self) -> str:
        sizes = [
            f"{SETS[key]} {len(data.queries)}q/{len(data.corpus)}d"
            for key, (data, _) in self.retrieval.items()
        ]
        return ", ".join(sizes + ([f"STS-B dev {len(self.sts.scores)} pairs"] if self.sts else []))


def dev_suite(config_path: str, max_docs: int, sets: tuple[str, ...] = tuple(SETS)) -> DevSuite:
    """The dev sets named in ``sets`` (all five by default); the SciFact hold-out is the one of the recipe
    at ``config_path``."""
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        raise ValueError(f"unknown dev sets {unknown}; choose from {', '.join(SETS)}")
    config = load_config(config_path)
    scifact = next(s for s in config.data if s.kind == "beir" and s.holdout_queries)
    loaders = {
        "nfcorpus": lambda: (subset(load_beir(DATA / "nfcorpus", "dev"), 100, 2000, seed=0), None),
        "scifact": lambda: (holdout_dataset(scifact, max_docs), None),
        **{
            key: lambda key=key: pairs_retrieval_set(DATA / "train" / key / "dev.jsonl")
            for key in ("wikiqa", "trecqa")
        },
    }
    retrieval = {key: load() for key, load in loaders.items() if key in sets}
    return DevSuite(
        retrieval, read_sts_pairs(DATA / "stsbenchmark" / "sts-dev.csv") if "stsb" in sets else None
    )


def measure(
    model: Encoder | Retriever, suite: DevSuite, cache: bool = False
) -> tuple[dict[str, float], float]:
    """Scores of an encoder (or the BM25 retriever, which has no STS score) on the suite, and seconds taken;
    ``cache`` reads and writes document vectors in the evaluation cache (for ``bench/hybrid.py`` to reuse)."""
    started = time.perf_counter()
    scores = {
        key: 100 * evaluate_encoder(model, data, instruction, cache=cache)["ndcg_at_10"]
        for key, (data, instruction) in suite.retrieval.items()
    }
    if suite.sts and hasattr(model, "encode_documents"):
        scores["stsb"] = sts_spearman(model, suite.sts)
    return {key: scores[key] for key in SETS if key in scores}, time.perf_counter() - started


def read_record(path: str) -> list[LeverRow]:
    """Lever rows measured earlier (JSON or TOML ``levers`` list), with a clear error for unknown fields."""
    text = Path(path).read_text(encoding="utf-8")
    rows = (tomllib.loads(text) if path.endswith(".toml") else json.loads(text)).get("levers", [])
    allowed = set(LeverRow.__dataclass_fields__)
    for number, row in enumerate(rows, 1):
        unknown = sorted(set(row) - allowed) + sorted(set(row.get("scores", {})) - set(SETS))
        if unknown:
            raise ValueError(
                f"{path}: lever {number} has unknown fields {unknown} (scores take {', '.join(SETS)})"
            )
        if "lever" not in row or "model" not in row:
            raise ValueError(f"{path}: lever {number} needs both 'lever' and 'model'")
    return [LeverRow(**{**row, "scores": row.get("scores", {})}) for row in rows]


def cell(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def table(rows: list[LeverRow]) -> str:
    """The markdown table, the footnote on means over fewer than five sets, and each row's notes."""
    lines = [
        "| lever | model | dev mean | "
        + " | ".join(SETS.values())
        + " | examples seen | train wall | encode s |",
        "|---|---|" + "---:|" * (len(SETS) + 4),
    ]
    for row in rows:
        mean = cell(row.mean()) + (PARTIAL if 0 < len(row.scores) < len(SETS) else "")
        wall = "–" if row.train_wall_min is None else f"{row.train_wall_min:,.0f} min"
        lines.append(
            f"| {row.lever} | {row.model} | {mean} | "
            + " | ".join(cell(row.scores.get(k)) for k in SETS)
            + f" | {cell(row.examples_seen)} | {wall} | {cell(row.encode_s, 0)} |"
        )
    if any(0 < len(row.scores) < len(SETS) for row in rows):
        lines.append(
            f"\n{PARTIAL} mean over the sets scored only, not comparable one-to-one with five-set means "
            "(BM25 has no STS score: its mean is over the four retrieval sets)."
        )
    lines += [f"- **{row.lever}**: {row.notes}" for row in rows if row.notes]
    return "\n".join(lines)


def quiet(encoder: Encoder | Retriever) -> Encoder | Retriever:
    if hasattr(encoder, "show_progress"):
        encoder.show_progress = False
    return encoder


def candidates(args: argparse.Namespace) -> list[tuple[str, str, dict, Callable]]:
    """``(lever, model label, training facts, loader)`` for every row to measure in this run."""
    rows = [
        (BASELINES.get(spec, "as shipped"), spec, {}, lambda spec=spec: load_model(spec, args.max_length))
        for spec in filter(None, args.models.split(","))
    ]
    if args.zero_shot:
        rows += [
            (
                f"zero-shot, {template}",
                f"{base}, first {k}",
                {},
                lambda b=base, t=template, k=k: load_encoder(
                    b, template=t, num_layers=k, max_length=args.max_length
                ),
            )
            for base in args.base.split(",")
            for template in args.templates.split(",")
            for k in map(int, args.layers.split(","))
        ]
    for spec in args.adapter:
        name, folder = spec.split("=", 1)
        saved, facts = adapter_config(folder), Path(folder) / "levers.json"
        facts = json.loads(facts.read_text(encoding="utf-8")) if facts.is_file() else {}
        base = saved.get("model") or "base"  # the base it was trained on (embedder.json)
        rows.append(
            (
                name,
                f"{base} + adapter, first {saved.get('num_layers') or 'all'}",
                {k: facts.get(k) for k in ("examples_seen", "train_wall_min")},
                lambda folder=folder, base=base: load_encoder(
                    base, adapter=folder, max_length=args.max_length
                ),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config",
        default="trainer/configs/default-cpu-distill.toml",
        help="recipe whose SciFact hold-out to use",
    )
    parser.add_argument("--models", default="bm25,minilm", help="comma-separated specs to score as they are")
    parser.add_argument("--zero-shot", action="store_true", help="also score the untrained base (slow)")
    parser.add_argument(
        "--base", default="base", help="comma-separated LLM specs for --zero-shot (base, gemma)"
    )
    parser.add_argument("--layers", default="6,12,18,30")
    parser.add_argument("--templates", default="paper,prompteol")
    parser.add_argument(
        "--adapter", action="append", default=[], metavar="NAME=DIR", help="a trained adapter"
    )
    parser.add_argument(
        "--record", action="append", default=[], metavar="FILE", help="lever rows measured before"
    )
    parser.add_argument("--write-record", metavar="FILE", help="save this run's rows as a record (JSON)")
    parser.add_argument(
        "--sets", default=",".join(SETS), help="comma-separated dev sets to score (slow models: scifact)"
    )
    parser.add_argument("--max-docs", type=int, default=300, help="documents in the SciFact hold-out set")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument(
        "--cache",
        action="store_true",
        help="keep document vectors in the evaluation cache for bench/hybrid.py (encode s then counts misses only)",
    )
    args = parser.parse_args()

    suite = dev_suite(args.config, args.max_docs, tuple(args.sets.split(",")))
    print(f"dev suite: {suite.describe()}; texts cut to {args.max_length} tokens\n")
    measured = []
    for lever, label, facts, load in candidates(args):
        scores, seconds = measure(quiet(load()), suite, args.cache)
        measured.append(LeverRow(lever, label, scores, encode_s=round(seconds, 1), **facts))
    if args.write_record:
        Path(args.write_record).write_text(
            json.dumps({"levers": [asdict(r) for r in measured]}, indent=2) + "\n"
        )
    print(table([row for path in args.record for row in read_record(path)] + measured))


if __name__ == "__main__":
    main()
