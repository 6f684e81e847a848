"""Training throughput and memory: our step vs sentence-transformers on the same model, LoRA, tokens and batch.

Three rows, each the same algorithm on both sides: batch 32 plain (``backward_plain`` vs
``MultipleNegativesRankingLoss``), and batch 32 and 256 with GradCache in chunks of ``--chunk``
(``backward_grad_cache`` vs ``CachedMultipleNegativesRankingLoss(mini_batch_size=--chunk)``).
Pairs only (in-batch negatives), cosine with temperature 0.02 (= scale 50), fp32, LoRA r=16 alpha=32
without dropout on all linear layers of SmolLM2-135M's first ``--layers`` layers, ``use_cache`` off.
Both sides get their token batches from trainer's ``Collator`` inside the step (texts cut to
``--max-length`` tokens, EOS last): sentence-transformers' own tokenizer would wrap every text of this
Instruct model in its chat template (about 25 more tokens and no EOS last).

Each configuration runs in its own subprocess: model load, one warm-up step, ``--steps`` timed steps,
then one more step under a tensor tracker. ``MB`` is the most tensor memory alive at once during that
step beyond what was alive before it (activations, gradients, temporaries; the CPU analogue of
``torch.cuda.max_memory_allocated``), measured the same way for both. Process RSS is not used: glibc
keeps freed blocks, so RSS growth depends on the order of allocations, not only their size.
``loss`` is the warm-up step's loss of each side: same weights and tokens, so they must agree.

    python bench/train.py [--layers 2] [--steps 2] [--max-length 64] [--chunk 32] [--threads 2]

``--compare-prefix-cache`` measures the frozen-prefix cache instead (``trainer/prefix.py``): one model
(``--layers`` layers, LoRA on all linear layers above the lowest ``--frozen``), the same batches and the
same starting weights, trained ``--steps`` steps twice: through the whole backbone, and through the top
layers over the lower layers' cached states. The cache is filled in a first pass over the batches and
the timed steps then read it, as in a second epoch; the loss difference is the fp16 rounding of the cache.
A third run, LoRA on every layer through the whole backbone, is the trainer before the cache (for scale).

    python bench/train.py --compare-prefix-cache [--layers 12] [--frozen 8] [--steps 4] [--max-length 128]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

if TYPE_CHECKING:
    from trainer.collate import Batch

DATA = "../shared/data/train/wikiqa/train.jsonl"
TEMPERATURE = 0.02
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}
ROWS = ((32, "plain"), (32, "cache"), (256, "cache"))

Step = Callable[[list[tuple[str, str]]], float]


class TensorPeak(TorchDispatchMode):
    """Peak bytes of tensor storage created inside the context and alive at the same time.

    Outputs that share an input's storage (views, in-place updates of weights and optimizer state)
    are not new memory and are not counted.
    """

    def __enter__(self):
        self.current = self.peak = 0
        self.refs: dict[int, weakref.ref] = {}
        return super().__enter__()

    def __torch_dispatch__(
        self,
        func: Callable[..., Any],
        types: tuple[type, ...],
        args: tuple = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        inputs = {
            id(t.untyped_storage()) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)
        }
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            key = id(storage)
            if key in inputs or key in self.refs:
                continue
            size = storage.nbytes()
            self.refs[key] = weakref.ref(storage, lambda _, key=key, size=size: self._free(key, size))
            self.current += size
            self.peak = max(self.peak, self.current)
        return out

    def _free(self, key: int, size: int) -> None:
        self.refs.pop(key, None)
        self.current -= size


def pairs(count: int) -> list[tuple[str, str]]:
    with open(DATA, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    return [(f"Instruct: {r['task']}\nQuery: {r['query']}", r["positive"]) for r in rows][:count]


def collator(args: argparse.Namespace) -> Callable[[list[tuple[str, str]]], Batch]:
    """trainer's collator with a template that leaves texts as they are; and its tokenizer."""
    from embedder.loading import default_model_dir, load_tokenizer
    from embedder.prompts import PromptTemplate
    from trainer.collate import Collator
    from trainer.data import Example

    tokenizer = load_tokenizer(str(default_model_dir()))
    collate = Collator(tokenizer, PromptTemplate("raw", "{text}", "{text}"), args.max_length, args.max_length)
    return lambda items: collate([Example(q, p, None, "", "bench") for q, p in items])


def ours(args: argparse.Namespace) -> tuple[Step, int]:
    """A step of trainer/, and the number of trainable parameters."""
    from trainer.config import ModelConfig
    from trainer.model import build_model, trainable_parameters
    from trainer.step import backward_grad_cache, backward_plain

    config = ModelConfig(
        num_layers=args.layers,
        lora_r=LORA["r"],
        lora_alpha=LORA["lora_alpha"],
        lora_dropout=LORA["lora_dropout"],
        lora_targets=LORA["target_modules"],
        gradient_checkpointing=False,
    )
    model, _ = build_model(config)
    params = trainable_parameters(model)
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    collate = collator(args)

    def step(items: list[tuple[str, str]]) -> float:
        batch = collate(items)
        if args.mode == "cache":
            loss = backward_grad_cache(model, batch, TEMPERATURE, args.chunk, contextlib.nullcontext)
        else:
            loss = backward_plain(model, batch, TEMPERATURE, contextlib.nullcontext)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return step, sum(p.numel() for p in params)


def sentence_transformers_step(args: argparse.Namespace) -> tuple[Step, int]:
    """The same step with sentence-transformers: last-token pooling, LoRA, (Cached)MNRL."""
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    from embedder.loading import default_model_dir, truncate_layers

    body = Transformer(str(default_model_dir()), max_seq_length=args.max_length)
    truncate_layers(body.auto_model, args.layers)
    body.auto_model.config.use_cache = False
    get_peft_model(body.auto_model, LoraConfig(**LORA))  # LoRA layers injected in place
    model = SentenceTransformer(
        modules=[body, Pooling(body.get_word_embedding_dimension(), "lasttoken")], device="cpu"
    )
    if args.mode == "cache":
        loss_fn = CachedMultipleNegativesRankingLoss(model, scale=1 / TEMPERATURE, mini_batch_size=args.chunk)
    else:
        loss_fn = MultipleNegativesRankingLoss(model, scale=1 / TEMPERATURE)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    collate = collator(args)

    def step(items: list[tuple[str, str]]) -> float:
        batch = collate(items)
        loss = loss_fn([batch.queries, batch.documents], None)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step, sum(p.numel() for p in params)


def prefix_cache_rows(args: argparse.Namespace) -> dict:
    """Examples per hour of full and cached steps on the same batches and weights, and their loss gap."""
    import tempfile

    from trainer.config import ModelConfig
    from trainer.model import build_model, trainable_parameters
    from trainer.prefix import HiddenStateCache, PrefixModel
    from trainer.step import backward_plain

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    collate = collator(args)
    data = pairs(args.batch * (args.steps + 1))
    batches = [collate(data[i * args.batch : (i + 1) * args.batch]) for i in range(args.steps + 1)]

    def train(model: torch.nn.Module, encoder: torch.nn.Module) -> tuple[float, list[float]]:
        """Examples per hour over the timed steps (after one untimed warm-up step), and their losses."""
        params = trainable_parameters(model)
        optimizer = torch.optim.AdamW(params, lr=1e-4)

        def step(batch: Batch) -> float:
            loss = backward_plain(encoder, batch, TEMPERATURE, contextlib.nullcontext)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss

        step(batches[0])
        started = time.perf_counter()
        losses = [step(batch) for batch in batches[1:]]
        return args.batch * args.steps * 3600 / (time.perf_counter() - started), losses

    def fresh(frozen: int) -> torch.nn.Module:
        torch.manual_seed(0)
        model, _ = build_model(
            ModelConfig(
                num_layers=args.layers, frozen_layers=frozen, gradient_checkpointing=False, lora_dropout=0.0
            )
        )
        return model.train()

    model = fresh(args.frozen)
    full_rate, full_losses = train(model, model)
    with tempfile.TemporaryDirectory() as folder:
        model = fresh(args.frozen)
        prefix = PrefixModel(model, args.frozen, HiddenStateCache(folder, "bench"))
        with torch.no_grad():  # first pass: the lower layers' states of every batch go to disk
            for batch in batches:
                prefix.lower_states(**batch.queries)
                prefix.lower_states(**batch.documents)
        cached_rate, cached_losses = train(model, prefix)
    every_layer = fresh(0)
    before_rate, _ = train(every_layer, every_layer)
    gap = max(abs(a - b) for a, b in zip(full_losses, cached_losses, strict=True))
    return {"full": full_rate, "cached": cached_rate, "every_layer": before_rate, "gap": gap}


def compare_prefix_cache(args: argparse.Namespace) -> None:
    rows = prefix_cache_rows(args)
    print(
        f"SmolLM2-135M first {args.layers} layers, LoRA above layer {args.frozen}, batch {args.batch}, "
        f"{args.max_length} tokens, {args.steps} timed steps, {args.threads} threads"
    )
    print(
        f"LoRA on every layer, whole backbone (the trainer before the cache): {rows['every_layer']:,.0f} ex/h"
    )
    print(f"cached vs LoRA on every layer: {rows['cached'] / rows['every_layer']:.2f}x")
    print(
        f"prefix cache speedup: {rows['cached'] / rows['full']:.2f}x (full {rows['full']:,.0f} ex/h, "
        f"cached {rows['cached']:,.0f} ex/h, max loss difference {rows['gap']:.2e})"
    )


def worker(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    step, trainable = (ours if args.worker == "ours" else sentence_transformers_step)(args)
    data = pairs(args.batch * (args.steps + 2))
    batches = [data[i * args.batch : (i + 1) * args.batch] for i in range(args.steps + 2)]
    loss = step(batches[0])
    started = time.perf_counter()
    for batch in batches[1:-1]:
        step(batch)
    seconds = time.perf_counter() - started
    with TensorPeak() as memory:
        step(batches[-1])
    print(
        json.dumps(
            {
                "examples_per_s": args.batch * args.steps / seconds,
                "peak_mb": memory.peak / 2**20,
                "loss": loss,
                "trainable": trainable,
            }
        )
    )


def run(args: argparse.Namespace, name: str, batch: int, mode: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--batch",
        str(batch),
        "--mode",
        mode,
        "--chunk",
        str(args.chunk),
        "--layers",
        str(args.layers),
        "--steps",
        str(args.steps),
        "--max-length",
        str(args.max_length),
        "--threads",
        str(args.threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layers", type=int, default=2, help="keep the first K layers of SmolLM2-135M")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=32, help="GradCache / CachedMNRL mini-batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--compare-prefix-cache", action="store_true", help="full vs frozen-prefix-cached steps (see above)"
    )
    parser.add_argument(
        "--frozen", type=int, default=8, help="lower layers frozen and cached (with the above)"
    )
    parser.add_argument("--worker", choices=["ours", "st"], help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["plain", "cache"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.compare_prefix_cache:
        args.batch = args.batch or 32
        return compare_prefix_cache(args)
    print(
        f"SmolLM2-135M first {args.layers} layers, LoRA r=16 all-linear, {args.max_length} tokens, "
        f"{args.steps} timed steps, {args.threads} threads; MB = peak tensor memory of one step"
    )
    print(
        f"{'batch':>5} {'step':<17} {'ours ex/s':>9} {'ours MB':>7} {'ST ex/s':>7} {'ST MB':>6} "
        f"{'speed x':>7} {'memory x':>8} {'loss ours / ST':>15}"
    )
    for batch, mode in ROWS:
        mine, theirs = run(args, "ours", batch, mode), run(args, "st", batch, mode)
        if mine["trainable"] != theirs["trainable"]:
            raise RuntimeError(
                f"LoRA differs: {mine['trainable']} vs {theirs['trainable']} trainable parameters"
            )
        label = "plain" if mode == "plain" else f"GradCache {args.chunk}"
        print(
            f"{batch:>5} {label:<17} {mine['examples_per_s']:>9.1f} {mine['peak_mb']:>7.0f} "
            f"{theirs['examples_per_s']:>7.1f} {theirs['peak_mb']:>6.0f} "
            f"{mine['examples_per_s'] / theirs['examples_per_s']:>7.2f} "
            f"{mine['peak_mb'] / theirs['peak_mb']:>8.2f} {mine['loss']:>7.4f}/{theirs['loss']:.4f}"
        )


if __name__ == "__main__":
    main()
