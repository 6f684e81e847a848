"""Hybrid retrieval (BM25 + a dense encoder, ``embedder.fusion``): fusion settings chosen on dev splits,
then the README's test subsets.

Dev: the SciFact *train* queries the default recipe holds out (as ``bench/levers.py``) and NFCorpus's
``dev`` split (100 queries, seed 0); each encoder's dense and BM25 runs are computed once, then fused with
every setting of the grid. The setting with the best mean dev nDCG@10 over all (encoder, dev set) pairs
is reported, and so is each encoder's own best (a weak encoder's dense side deserves less weight); both are
used on test (SciFact and NFCorpus test, 100 queries / 1,000+ documents, seed 0, texts cut
to 128 tokens), next to bm25 and the encoders alone. Document vectors come from the evaluation cache.

With ``--write-alpha``, each adapter-backed encoder's own dev-chosen dense weight (when linear fusion
won) is written into its adapter's ``embedder.json`` as ``fusion_alpha``: hybrid search with that encoder
(collections, ``hybrid:<spec>``) then uses it unless ``--alpha`` says otherwise (``embedder.fusion.fusion_for``).

    python bench/hybrid.py [--encoders minilm,default] [--max-queries 100] [--max-docs 1000] [--write-alpha]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from embedder.datasets import BeirDataset, load_beir, subset
from embedder.evaluation.bm25 import BM25Retriever
from embedder.evaluation.hybrid import HybridRetriever, fuse_runs
from embedder.evaluation.metrics import Run, evaluate_run
from embedder.evaluation.retrieval import DenseRetriever
from embedder.fusion import FusionConfig
from embedder.loading import EMBEDDER_CONFIG_FILE, adapter_config
from embedder.registry import load_model
from trainer.config import load_config
from trainer.dev import holdout_dataset

GRID = [FusionConfig(method="rrf", rrf_k=k) for k in (5, 20, 60, 100)] + [
    FusionConfig(method="linear", alpha=a) for a in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
]


def ndcg(data: BeirDataset, run: Run) -> float:
    return 100 * evaluate_run(data.qrels, run)["ndcg_at_10"]


def dev_sets(max_queries: int, max_docs: int) -> list[BeirDataset]:
    config = load_config("trainer/configs/default-cpu.toml")
    source = next(s for s in config.data if s.kind == "beir" and s.holdout_queries)
    return [
        holdout_dataset(source, 300),
        subset(load_beir("../shared/data/nfcorpus", "dev"), max_queries, max_docs, 0),
    ]


def test_sets(max_queries: int, max_docs: int) -> list[BeirDataset]:
    return [
        subset(load_beir(f"../shared/data/{name}", "test"), max_queries, max_docs, 0)
        for name in ("scifact", "nfcorpus")
    ]


def runs(hybrids: dict[str, HybridRetriever], datasets: list[BeirDataset]) -> dict:
    """(dense run, BM25 run) per (encoder, dataset), each computed once."""
    return {
        (spec, data.label): hybrid.runs(data, data.default_instruction())
        for spec, hybrid in hybrids.items()
        for data in datasets
    }


def write_alpha(adapter: str, alpha: float) -> Path:
    """Record an adapter's dev-chosen dense weight in its ``embedder.json``."""
    path = Path(adapter) / EMBEDDER_CONFIG_FILE
    path.write_text(
        json.dumps({**adapter_config(adapter), "fusion_alpha": alpha}, indent=2) + "\n", encoding="utf-8"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoders", default="minilm,default")
    parser.add_argument("--max-queries", type=int, default=100)
    parser.add_argument("--max-docs", type=int, default=1000)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument(
        "--write-alpha", action="store_true", help="save each adapter's dev-chosen dense weight"
    )
    args = parser.parse_args()

    bm25 = BM25Retriever()
    hybrids = {
        spec: HybridRetriever(DenseRetriever(load_model(spec, args.max_length)), bm25)
        for spec in args.encoders.split(",")
    }
    dev = dev_sets(args.max_queries, args.max_docs)
    dev_runs = runs(hybrids, dev)
    print("dev nDCG@10 by fusion setting (mean over encoders and dev sets first)\n")
    print("| fusion | mean | " + " | ".join(f"hybrid:{s} {d.name}" for s in hybrids for d in dev) + " |")
    print("|---|---:|" + "---:|" * (len(hybrids) * len(dev)))
    means, own = {}, {spec: {} for spec in hybrids}
    for fusion in GRID:
        scores = [ndcg(d, fuse_runs(*dev_runs[spec, d.label], fusion)) for spec in hybrids for d in dev]
        means[fusion] = sum(scores) / len(scores)
        for i, spec in enumerate(hybrids):
            own[spec][fusion] = sum(scores[i * len(dev) : (i + 1) * len(dev)]) / len(dev)
        print(
            f"| {fusion.describe()} | {means[fusion]:.1f} | " + " | ".join(f"{s:.1f}" for s in scores) + " |"
        )
    chosen = max(GRID, key=means.get)
    best = {spec: max(GRID, key=own[spec].get) for spec in hybrids}
    default = FusionConfig()
    print(f"\nchosen on dev: {chosen.describe()} (the project default is {default.describe()})")
    for spec, fusion in best.items():
        print(f"best on dev for hybrid:{spec}: {fusion.describe()} (mean {own[spec][fusion]:.1f})")
    if args.write_alpha:
        for spec, fusion in best.items():
            adapter = getattr(getattr(hybrids[spec].dense.encoder, "config", None), "adapter", None)
            if adapter and fusion.method == "linear":
                print(f"fusion_alpha {fusion.alpha} written to {write_alpha(adapter, fusion.alpha)}")
    print()

    test = test_sets(args.max_queries, args.max_docs)
    test_runs = runs(hybrids, test)
    print(
        "test nDCG@10\n\n| model | " + " | ".join(d.label for d in test) + " |\n|---|" + "---:|" * len(test)
    )
    print(
        "| bm25 | "
        + " | ".join(f"{ndcg(d, test_runs[next(iter(hybrids)), d.label][1]):.1f}" for d in test)
        + " |"
    )
    for spec in hybrids:
        print(f"| {spec} | " + " | ".join(f"{ndcg(d, test_runs[spec, d.label][0]):.1f}" for d in test) + " |")
    for spec in hybrids:
        shown = set()
        for label, fusion in (
            ("dev-chosen", chosen),
            (f"dev-chosen for {spec}", best[spec]),
            ("default", default),
        ):
            if fusion in shown:
                continue
            shown.add(fusion)
            scores = [ndcg(d, fuse_runs(*test_runs[spec, d.label], replace(fusion))) for d in test]
            print(
                f"| hybrid:{spec} ({label}: {fusion.describe()}) | "
                + " | ".join(f"{s:.1f}" for s in scores)
                + " |"
            )


if __name__ == "__main__":
    main()
