"""Encoding throughput of the default model: our encoder vs a plain transformers loop, and vs the machine.

Prints texts/s, tokens/s and peak RSS at ~128 and ~512 tokens per text (mixed lengths around each
target), for (a) ``LLMEncoder`` (length-sorted batches packed without padding, backbone only),
(b) the same with ``packing=False`` (sorted batches padded to their longest), and (c) a plain loop
over the same backbone (fixed order, fixed batch, padding to the longest), checks that the outputs agree, and
measures the machine's fp32 matmul speed to state the limit: GFLOP/s / (2 x linear parameters).
The "kernels alone" row times just the model's matrix multiplies and its causal attention (the
encoder's own batches, each kernel run in isolation, nothing else): no fp32 forward built from these
kernels can beat it, so it bounds what share of the limit is reachable here.

    python bench/encode.py [--texts 64] [--batch-size 16] [--model base] [--compile]
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from embedder.backends.llm import LLMEncoder


def matmul_gflops(repeats: int = 5) -> float:
    """Best fp32 GEMM speed over a few tries, on shapes like the model's MLP projections."""
    a, b = torch.randn(2048, 576), torch.randn(576, 1536)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - start) / 10)
    return 2 * 2048 * 576 * 1536 / best / 1e9


def linear_params(model: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def mixed_texts(tokenizer: PreTrainedTokenizerBase, n: int, target: int, seed: int) -> list[str]:
    """Texts of 25%..175% of ``target`` tokens, from a fixed word pool."""
    rng = random.Random(seed)
    words = [
        "retrieval",
        "embedding",
        "model",
        "query",
        "document",
        "language",
        "vector",
        "index",
        "search",
        "training",
        "data",
        "protein",
        "cell",
        "cancer",
        "gene",
        "therapy",
        "clinical",
        "patient",
        "study",
        "result",
        "method",
        "analysis",
    ]
    texts = []
    for _ in range(n):
        length = rng.randint(target // 4, target * 7 // 4)
        text = " ".join(rng.choice(words) for _ in range(length))
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][: length - 1]
        texts.append(tokenizer.decode(ids))
    return texts


@torch.inference_mode()
def plain_loop(encoder: LLMEncoder, texts: list[str], batch_size: int) -> np.ndarray:
    """What one writes without this project: fixed order, fixed batch, pad to the longest, EOS appended."""
    from embedder.batching import pad_batch, tokenize_with_eos
    from embedder.pooling import last_token_pool

    ids, _ = tokenize_with_eos(encoder.tokenizer, texts, encoder.config.max_length)
    out = []
    for start in range(0, len(ids), batch_size):
        batch = pad_batch(ids[start : start + batch_size], encoder.tokenizer.pad_token_id)
        hidden = encoder.model(**batch).last_hidden_state
        out.append(torch.nn.functional.normalize(last_token_pool(hidden, batch["attention_mask"]), dim=-1))
    return torch.cat(out).numpy()


@torch.inference_mode()
def kernels_alone_seconds(encoder: LLMEncoder, texts: list[str], repeats: int = 2) -> float:
    """Seconds the model's matrix multiplies and causal attention alone take on the encoder's batches of
    ``texts`` (best of ``repeats`` per batch): element-wise work, copies and framework overhead excluded."""
    from embedder.batching import tokenize_with_eos
    from embedder.packing import packed_causal_attention

    config = encoder.model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    linears = [m for m in encoder.model.modules() if isinstance(m, torch.nn.Linear)]
    ids, _ = tokenize_with_eos(encoder.tokenizer, texts, encoder.config.max_length)
    total = 0.0
    for batch in encoder.batches([len(row) for row in ids]):
        lengths = [len(ids[i]) for i in batch]
        tokens = sum(lengths)
        offsets = torch.tensor([0, *itertools.accumulate(lengths)])
        query, key_value = torch.randn(1, heads, tokens, head_dim), torch.randn(1, kv_heads, tokens, head_dim)
        inputs = {width: torch.randn(tokens, width) for width in {m.in_features for m in linears}}
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for linear in linears:
                torch.nn.functional.linear(inputs[linear.in_features], linear.weight)
            for _ in range(config.num_hidden_layers):
                packed_causal_attention(query, key_value, key_value, offsets, head_dim**-0.5)
            best = min(best, time.perf_counter() - start)
        total += best
    return total


def timed(fn: Callable[..., np.ndarray], *args: object) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="base")
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lengths", default="128,512")
    parser.add_argument("--compile", action="store_true", help="also time LLMEncoder with torch.compile")
    args = parser.parse_args()

    from embedder.registry import load_encoder

    encoder = load_encoder(args.model, batch_size=args.batch_size, max_length=1024)
    padded = load_encoder(args.model, batch_size=args.batch_size, max_length=1024, packing=False)
    methods = {
        "plain loop": lambda texts: plain_loop(padded, texts, args.batch_size),
        "LLMEncoder padded": padded.encode_raw,
        "LLMEncoder": encoder.encode_raw,
    }
    if args.compile:
        compiled = load_encoder(args.model, batch_size=args.batch_size, max_length=1024, compile=True)
        methods["LLMEncoder+compile"] = compiled.encode_raw
    for variant in (encoder, padded, *([compiled] if args.compile else [])):
        variant.show_progress = False
        variant.encode_raw(mixed_texts(encoder.tokenizer, 4, 64, seed=0))  # warm-up (and compile)

    gflops = matmul_gflops()
    limit = gflops * 1e9 / (2 * linear_params(encoder.model))
    print(
        f"model {encoder.name}: {linear_params(encoder.model) / 1e6:.1f}M linear params, "
        f"{torch.get_num_threads()} threads, batch {args.batch_size}, {args.texts} texts per length"
    )
    print(f"machine: fp32 matmul {gflops:.1f} GFLOP/s -> limit {limit:.0f} tokens/s for this model\n")
    print(
        f"{'target':>6} {'method':<20} {'texts/s':>8} {'tokens/s':>9} {'of limit':>8} {'vs plain':>8} "
        f"{'min cos':>9} {'peak RSS':>9}"
    )
    for target in (int(x) for x in args.lengths.split(",")):
        texts = mixed_texts(encoder.tokenizer, args.texts, target, seed=target)
        tokens = sum(encoder.count_tokens(texts))
        reference, plain_s = timed(methods["plain loop"], texts)
        for method, fn in methods.items():
            vectors, seconds = (reference, plain_s) if method == "plain loop" else timed(fn, texts)
            rate = tokens / seconds
            cosine = float(np.min(np.sum(reference * vectors, axis=1)))
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{target:>6} {method:<20} {len(texts) / seconds:>8.2f} {rate:>9.0f} {rate / limit:>8.0%} "
                f"{plain_s / seconds:>7.2f}x {cosine:>9.6f} {rss:>7.0f}MB"
            )
        seconds = kernels_alone_seconds(encoder, texts)
        print(
            f"{target:>6} {'kernels alone':<20} {len(texts) / seconds:>8.2f} {tokens / seconds:>9.0f} "
            f"{tokens / seconds / limit:>8.0%} {plain_s / seconds:>7.2f}x"
        )


if __name__ == "__main__":
    main()
