"""Encoding speed of the embedders a user chooses between, on the same texts: texts/s and tokens/s.

The texts are SciFact documents (``title text``, as indexed), encoded as documents by each model as
shipped: ``default`` (SmolLM2-135M first 12 layers + the adapter, texts cut to ``--max-length`` tokens)
and ``minilm`` (all-MiniLM-L6-v2, its own 256-token limit). Tokens are counted with each model's own
tokenizer after its own truncation (the two tokenizers differ, so texts/s is the like-for-like figure).
One warm-up batch is encoded first; model loading is not timed.

    python bench/encode_speed.py [--models default,minilm] [--texts 512] [--threads 1] [--max-length 128]
"""

from __future__ import annotations

import argparse
import time

import torch

from embedder.datasets import load_beir
from embedder.protocol import Encoder
from embedder.registry import is_llm_spec, load_encoder


def token_counts(encoder: Encoder, texts: list[str], max_length: int) -> int:
    """Tokens the model actually runs over (its own tokenizer, its own truncation)."""
    if hasattr(encoder, "count_tokens"):
        return sum(min(n, max_length) for n in encoder.count_tokens(texts))
    tokenizer, limit = encoder.model.tokenizer, encoder.model.max_seq_length
    return sum(min(len(ids), limit) for ids in tokenizer(texts)["input_ids"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="default,minilm")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=128, help="token limit of the LLM models")
    parser.add_argument("--data", default="../shared/data/scifact")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    texts = load_beir(args.data).document_texts()[: args.texts]
    print(f"{len(texts)} SciFact documents, {args.threads} thread(s)\n")
    print("| model | texts/s | tokens/s | tokens per text | seconds |\n|---|---:|---:|---:|---:|")
    for spec in args.models.split(","):
        options = {"max_length": args.max_length} if is_llm_spec(spec) else {}
        encoder = load_encoder(spec, **options)
        encoder.show_progress = False
        encoder.encode_documents(texts[:16])
        started = time.perf_counter()
        encoder.encode_documents(texts)
        seconds = time.perf_counter() - started
        tokens = token_counts(encoder, texts, args.max_length)
        print(
            f"| {spec} | {len(texts) / seconds:.1f} | {tokens / seconds:,.0f} | {tokens / len(texts):.0f} | "
            f"{seconds:.1f} |"
        )


if __name__ == "__main__":
    main()
