"""What LoRA dropout costs a training step on CPU: the trained top of a prefix-cached model, forward and
backward over one batch of documents, with LoRA dropout ``--dropout`` (0.1, the paper's and the trainer's
default, whatever the config says) and with none.

peft draws a dropout mask over each adapted layer's full input, once per adapted projection (seven per
layer with ``all-linear``); on a CPU those random draws are a large share of the step. The model, depth,
adapter and autocast come from the trainer config; the lower layers' states are random (what they hold
does not change the cost). Alternating runs, one warm-up each, model loading not timed.

    python bench/lora_dropout.py --config trainer/configs/gemma-cpu-batch128.toml [--batch 32] [--dropout 0.1]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch

from trainer.config import load_config
from trainer.model import build_model
from trainer.prefix import PrefixModel
from trainer.step import autocast_for


def step_seconds(
    model: PrefixModel,
    batch: int,
    length: int,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> float:
    """One forward and backward of the trained top over ``batch`` rows of ``length`` tokens."""
    hidden = torch.randn(batch, length, model.top.config.hidden_size)
    mask = torch.ones(batch, length, dtype=torch.long)
    start = time.perf_counter()
    with autocast():
        out = model.top(inputs_embeds=hidden, attention_mask=mask).last_hidden_state
    out[:, -1].float().pow(2).sum().backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True, help="a trainer config with frozen_layers > 0")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--dropout", type=float, default=0.1, help="the rate compared with no dropout")
    args = parser.parse_args()
    config = load_config(args.config)
    autocast = autocast_for(torch.device("cpu"), config.mixed_precision)
    if not 0 < args.dropout < 1:
        parser.error(f"--dropout must be between 0 and 1 (exclusive), got {args.dropout}")
    rates = (args.dropout, 0.0)
    models = {}
    for rate in rates:
        peft_model, _ = build_model(dataclasses.replace(config.model, lora_dropout=rate))
        models[rate] = PrefixModel(peft_model, config.model.frozen_layers).train()
    times: dict[float, list[float]] = {rate: [] for rate in rates}
    length = config.model.doc_max_length
    for step in range(args.steps + 1):
        for rate in rates:
            seconds = step_seconds(models[rate], args.batch, length, autocast)
            if step:  # the first is a warm-up
                times[rate].append(seconds)
    with_dropout, without = (statistics.median(times[rate]) for rate in rates)
    print(
        f"{args.batch} x {length} tokens through the top {config.model.num_layers - config.model.frozen_layers} "
        f"layers, torch threads {torch.get_num_threads()}: lora_dropout {rates[0]}: {with_dropout:.2f} s, "
        f"0: {without:.2f} s ({with_dropout / without:.2f}x)"
    )


if __name__ == "__main__":
    main()
