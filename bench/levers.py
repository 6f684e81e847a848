"""Training levers, measured on the dev split: quality against encoding cost.

Scores SmolLM2-135M zero-shot at several depths (first K of 30 layers) with each prompt template, and
any trained adapters given, by nDCG@10 on the SciFact *train* queries that the default recipe holds out
from training (never the test split: these figures choose the recipe). Encoding cost is measured in the
same run: the seconds the encoder takes over the dev documents and queries (model loading excluded).
The held-out slice depends on the recipe's seed: an adapter trained with another seed has seen some of it.

    python bench/levers.py [--config trainer/configs/default-cpu.toml] [--layers 6,12,18,30]
                           [--templates paper,prompteol] [--adapter NAME=DIR ...]
"""

from __future__ import annotations

import argparse
import time

from embedder.evaluation.beir import evaluate_encoder
from embedder.registry import adapter_config, load_encoder
from trainer.config import load_config
from trainer.dev import holdout_dataset


def score(encoder, data) -> tuple[float, float]:
    """``(nDCG@10, seconds)`` of one encoder on the dev set (no cache: every text is encoded afresh)."""
    started = time.perf_counter()
    ndcg = evaluate_encoder(encoder, data, cache=False)["ndcg_at_10"]
    return ndcg, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="trainer/configs/default-cpu.toml", help="recipe whose dev split to use")
    parser.add_argument("--layers", default="6,12,18,30")
    parser.add_argument("--templates", default="paper,prompteol")
    parser.add_argument("--adapter", action="append", default=[], metavar="NAME=DIR", help="a trained adapter")
    parser.add_argument("--max-docs", type=int, default=300)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()

    config = load_config(args.config)
    source = next(s for s in config.data if s.kind == "beir" and s.holdout_queries)
    data = holdout_dataset(source, args.max_docs)
    rows = [(f"zero-shot, {template}", f"first {k}", {"template": template, "num_layers": k})
            for template in args.templates.split(",") for k in map(int, args.layers.split(","))]
    for spec in args.adapter:
        name, folder = spec.split("=", 1)
        saved = adapter_config(folder)
        rows.append((name, f"first {saved.get('num_layers') or 30}", {**saved, "adapter": folder}))
    print(f"dev: {data.name} {data.subset} ({len(data.queries)} queries, {len(data.corpus)} documents), "
          f"texts cut to {args.max_length} tokens\n")
    print("| model | layers | dev nDCG@10 | encode s |\n|---|---|---:|---:|")
    for label, layers, settings in rows:
        encoder = load_encoder("base", **{**settings, "max_length": args.max_length})
        encoder.show_progress = False
        ndcg, seconds = score(encoder, data)
        print(f"| {label} | {layers} | {100 * ndcg:.1f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
