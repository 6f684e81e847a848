"""Training throughput and memory: our step (plain and GradCache) vs sentence-transformers'
``CachedMultipleNegativesRankingLoss`` on the same model, LoRA, data and batch.

Each configuration runs in its own subprocess (so peak memory is its own): model load, one warm-up
step, then ``--steps`` timed steps. Prints examples/s and the peak RSS growth over the loaded model
during the steps (warm-up included). Pairs only (in-batch negatives), cosine with temperature 0.02 (= scale 50) for both.

    python bench/train.py [--layers 2] [--steps 2] [--max-length 64] [--chunk 32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import threading
import time

import psutil
import torch

DATA = "../shared/data/train/wikiqa/train.jsonl"
TEMPERATURE = 0.02
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}


class PeakRSS:
    """Samples this process's RSS every 5 ms; ``growth`` is the peak minus the level at start."""

    def __enter__(self):
        self.process, self.start, self.peak, self.running = psutil.Process(), 0, 0, True
        self.start = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def pairs(count: int) -> list[tuple[str, str]]:
    with open(DATA, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    return [(f"Instruct: {r['task']}\nQuery: {r['query']}", r["positive"]) for r in rows][:count]


def ours(args, batch: int, chunk: int):
    """A step of trainer/: returns a closure taking a list of pairs."""
    from embedder.prompts import PromptTemplate
    from trainer.collate import Collator
    from trainer.config import ModelConfig
    from trainer.data import Example
    from trainer.model import build_model
    from trainer.step import backward_grad_cache, backward_plain

    config = ModelConfig(num_layers=args.layers, lora_dropout=0.0, gradient_checkpointing=False,
                         query_max_length=args.max_length, doc_max_length=args.max_length)
    model, tokenizer = build_model(config)
    collate = Collator(tokenizer, PromptTemplate("raw", "{text}", "{text}"), args.max_length, args.max_length)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(items):
        batch_ = collate([Example(q, p, None, "", "bench") for q, p in items])
        if chunk < batch:
            backward_grad_cache(model, batch_, TEMPERATURE, chunk, contextlib.nullcontext)
        else:
            backward_plain(model, batch_, TEMPERATURE, contextlib.nullcontext)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def sentence_transformers_step(args, batch: int, chunk: int):
    """The same step with sentence-transformers: last-token pooling, LoRA, CachedMNRL."""
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    from embedder.loading import default_model_dir, truncate_layers

    body = Transformer(str(default_model_dir()), max_seq_length=args.max_length)
    truncate_layers(body.auto_model, args.layers)
    tokenizer = body.tokenizer
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    body.auto_model = get_peft_model(body.auto_model, LoraConfig(**LORA))  # add_adapter needs peft >= 0.22
    model = SentenceTransformer(modules=[body, Pooling(body.get_word_embedding_dimension(), "lasttoken")],
                                device="cpu")
    loss = CachedMultipleNegativesRankingLoss(model, scale=1 / TEMPERATURE, mini_batch_size=chunk)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    eos = tokenizer.eos_token

    def step(items):
        features = [model.tokenize([q + eos for q, _ in items]), model.tokenize([p + eos for _, p in items])]
        loss(features, None).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def worker(args) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    build = ours if args.worker == "ours" else sentence_transformers_step
    step = build(args, args.batch, args.chunk)
    data = pairs(args.batch * (args.steps + 1))
    with PeakRSS() as memory:  # the warm-up step included: allocators keep what it took
        step(data[: args.batch])
        started = time.perf_counter()
        for i in range(1, args.steps + 1):
            step(data[i * args.batch : (i + 1) * args.batch])
        seconds = time.perf_counter() - started
    print(json.dumps({"examples_per_s": args.batch * args.steps / seconds, "peak_mb": memory.growth_mb}))


def run(args, name: str, batch: int, chunk: int) -> dict:
    command = [sys.executable, __file__, "--worker", name, "--batch", str(batch), "--chunk", str(chunk),
               "--layers", str(args.layers), "--steps", str(args.steps), "--max-length", str(args.max_length),
               "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=2, help="keep the first K layers of SmolLM2-135M")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=32, help="GradCache / CachedMNRL mini-batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=["ours", "st"], help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    print(f"SmolLM2-135M first {args.layers} layers, LoRA r=16 all-linear, {args.max_length} tokens, "
          f"{args.steps} timed steps, {args.threads} threads")
    print(f"{'batch':>6} {'ours ex/s':>10} {'ours MB':>8} {'ST ex/s':>8} {'ST MB':>7} {'speed x':>8}")
    for batch in (32, 256):
        mine = run(args, "ours", batch, min(batch, args.chunk) if batch > args.chunk else batch)
        theirs = run(args, "st", batch, min(batch, args.chunk))
        print(f"{batch:>6} {mine['examples_per_s']:>10.1f} {mine['peak_mb']:>8.0f} {theirs['examples_per_s']:>8.1f} "
              f"{theirs['peak_mb']:>7.0f} {mine['examples_per_s'] / theirs['examples_per_s']:>8.2f}")


if __name__ == "__main__":
    main()
