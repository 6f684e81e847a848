"""The README's evaluation figures: nDCG@10 on SciFact and NFCorpus (test) for the local models, and the
passkey table of the default model, printed as Markdown with each run's wall time.

Results also land in ``$E5_HOME/results.db``; document embeddings are cached, so a rerun only encodes
what it has not seen. Full runs of the LLMs take hours on 2 CPU cores (~250 tokens/s): use a GPU, or
``--max-queries/--max-docs`` for a seeded subset (labelled as such in every row).

    python bench/eval_figures.py [--data ../shared/data] [--models bm25,minilm,base,default]
                                 [--max-queries 100 --max-docs 1000] [--passkey 256,512,1k,2k,4k,8k]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from embedder.evaluation.passkey import parse_lengths, run_passkey
from embedder.evaluation.report import export_results
from embedder.evaluation.results import ResultStore
from embedder.evaluation.runner import run_beir
from embedder.registry import load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding scifact/ and nfcorpus/")
    parser.add_argument("--models", default="bm25,minilm,base,default")
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--max-docs", type=int)
    parser.add_argument("--passkey", default="", help="passkey lengths for the default model (empty: skip)")
    args = parser.parse_args()

    started = time.perf_counter()
    results = run_beir(
        [args.data / "scifact", args.data / "nfcorpus"],
        args.models.split(","),
        max_queries=args.max_queries,
        max_docs=args.max_docs,
    )
    print(export_results(results, "markdown"))
    print(f"BEIR wall time: {time.perf_counter() - started:.0f} s (model loading included)\n")
    if args.passkey:
        passkey = run_passkey(load_model("default"), parse_lengths(args.passkey))
        ResultStore().add(passkey)
        for result in passkey:
            cut = f" (truncated to {result.config['truncated_to']})" if result.config["truncated_to"] else ""
            print(
                f"passkey {result.config['length']:>6}{cut}: top-1 {result.metrics['accuracy']:.2f} "
                f"in {result.wall_s:.0f} s"
            )


if __name__ == "__main__":
    main()
