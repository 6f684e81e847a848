"""The training loop: data, model, optimiser and schedule, steps with progress and logs, checkpoints."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm

from embedder.loading import pick_device
from embedder.prompts import get_template

from .checkpoint import keep_if_best
from .collate import Batch, Collator, ScoredPairs, bucketed_batches, task_batches
from .config import TrainConfig
from .data import Example, task_instruction
from .distributed import init_from_env, world
from .export import TrainResult, embedder_settings
from .mixing import build_dataset, cosent_pairs
from .model import build_model, trainable_parameters
from .prefix import HiddenStateCache, PrefixModel, layer_index
from .step import StepRunner, autocast_for, make_optimizer, uses_bf16
from .teacher import TeacherScorer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from embedder.evaluation.devsets import StsPairs


def batch_schedule(examples: list[Example], config: TrainConfig) -> list[list[int]]:
    """Example indices of every batch of the run (all processes), fixed by the seed; epochs repeat
    with fresh orders as needed; with ``optim.task_batches`` each batch holds one task's examples."""
    rank, size = world()
    optim = config.optim
    lengths = [len(ex.positive) + len(ex.negative or "") for ex in examples]
    needed, schedule, epoch = optim.max_steps * size, [], 0
    while len(schedule) < needed:
        seed = config.seed + epoch
        epoch_batches = (
            task_batches(examples, lengths, optim.batch_size, optim.bucket_batches, seed)
            if optim.task_batches
            else list(bucketed_batches(lengths, optim.batch_size, optim.bucket_batches, seed))
        )
        if not epoch_batches:
            raise ValueError(f"{len(examples)} examples are fewer than one batch of {optim.batch_size}")
        schedule += epoch_batches
        epoch += 1
    return schedule[rank:needed:size]


def pair_rows(count: int, size: int, seed: int, step: int) -> list[int]:
    """The rows of the graded pairs that step ``step`` ranks (this process's draw; fixed by seed and step,
    so a resumed run draws the same)."""
    rank = world()[0]
    return random.Random((seed * 1_000_003 + step) * 1_009 + rank).sample(range(count), min(size, count))


def train(config: TrainConfig, progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Run (or resume) training as configured; writes the adapter, its ``embedder.json`` and model card.

    ``stop_after`` ends early at that step with a checkpoint and the adapter as it stands (a long
    CPU run split over sessions); the next call resumes on the same schedule. A ``stop_after`` the
    checkpoint has passed trains nothing.
    """
    started = time.time()
    run = setup(config)
    checkpoint = Path(config.output_dir) / "checkpoint"
    step, earlier_seconds = 0, 0.0
    if checkpoint.is_dir():
        step, earlier_seconds = run.steps.load(checkpoint)
    # a rerun chunk of a loop that already went past it is a no-op, never a rewind of the checkpoint
    last = max(step, min(config.optim.max_steps, stop_after or config.optim.max_steps))

    def elapsed() -> float:
        return earlier_seconds + time.time() - started

    loss = run_steps(run, config, step, last, progress, elapsed)
    wall = elapsed()
    result = TrainResult(Path(config.output_dir) / "adapter", last, loss, wall, run.counts)
    run.steps.save(checkpoint, last, wall)
    run.steps.export(config, result)
    return result


@dataclass
class Run:
    """Everything the loop needs, built once per call."""

    examples: list[Example]
    counts: dict
    model: torch.nn.Module
    collator: Collator
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    steps: StepRunner
    device: torch.device
    teacher: TeacherScorer | None = None
    cosent: StsPairs | None = None

    def make_batch(self, examples: list[Example]) -> Batch:
        """Token batch of ``examples`` (false negatives dropped and teacher embeddings attached when distilling)."""
        if self.teacher is None:
            return self.collator(examples).to(self.device)
        examples = self.teacher.drop_false_negatives(examples)
        batch = self.collator(examples)
        return Batch(batch.queries, batch.documents, self.teacher.batch_teacher(examples)).to(self.device)

    def make_pairs(self, step: int, config: TrainConfig) -> ScoredPairs | None:
        """The graded pairs of ``step``'s CoSENT term (None when the config has none)."""
        if self.cosent is None:
            return None
        pairs = self.cosent
        rows = pair_rows(len(pairs.scores), config.cosent.batch_size, config.seed, step)
        return self.collator.scored_pairs(
            [pairs.first[i] for i in rows],
            [pairs.second[i] for i in rows],
            [pairs.scores[i] for i in rows],
            task_instruction(config.cosent.task),
        ).to(self.device)


def setup(config: TrainConfig) -> Run:
    """Process group, seeds, data, model, optimiser and schedule (in a DeepSpeed engine if configured)."""
    device = init_from_env(pick_device(config.device))
    if config.deepspeed:
        from .zero import zero_builder

        build = zero_builder(config, device)  # before the data: a missing install or bad JSON fails at once
    else:
        build = plain_setup
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    examples, counts = build_dataset(config.data, config.leak, config.seed)
    model, tokenizer, optimizer, scheduler, steps = build(config, device)
    collator = Collator(
        tokenizer,
        get_template(config.model.template),
        config.model.query_max_length,
        config.model.doc_max_length,
    )
    teacher = None
    if config.distill.teacher:
        autocast = autocast_for(device, config.mixed_precision and config.distill.mixed_precision)
        teacher = TeacherScorer(config.distill, autocast=autocast)
    pairs = cosent_pairs(config.cosent.path, config.leak) if config.cosent.path else None
    if pairs is not None:
        counts[f"{config.cosent.path} (CoSENT pairs)"] = {
            "read": len(pairs.scores),
            "weighted": len(pairs.scores),
        }
    return Run(examples, counts, model, collator, optimizer, scheduler, steps, device, teacher, pairs)


def plain_setup(
    config: TrainConfig, device: torch.device
) -> tuple[
    torch.nn.Module,
    PreTrainedTokenizerBase,
    torch.optim.Optimizer,
    torch.optim.lr_scheduler.LRScheduler,
    StepRunner,
]:
    """``(model, tokenizer, optimizer, scheduler, steps)`` on one device (or plain DDP), no DeepSpeed."""
    model, tokenizer = build_model(config.model)
    model.to(device).train()
    params = trainable_parameters(model)
    optimizer, scheduler = make_optimizer(params, config)
    steps = StepRunner(
        model, params, optimizer, scheduler, config, device, forward_model(model, config, device)
    )
    return model, tokenizer, optimizer, scheduler, steps


def forward_model(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.nn.Module:
    """What the step encodes with: the model, or with ``frozen_layers`` its :class:`PrefixModel`
    (lower layers' outputs from the prefix cache when one is configured)."""
    frozen = config.model.frozen_layers
    if not frozen:
        return model
    cache = None
    if config.prefix_cache:
        cache = HiddenStateCache(
            config.prefix_cache,
            prefix_cache_key(config, bf16=uses_bf16(device, config.mixed_precision)),
            dtype=getattr(torch, config.prefix_cache_dtype),
            max_bytes=int(config.prefix_cache_gb * 2**30),
        )
    return PrefixModel(model, frozen, cache)


def prefix_cache_key(config: TrainConfig, bf16: bool = False) -> str:
    """What the cached lower states depend on besides the tokens: model, depth, the warm start's weights in
    the frozen layers (none: the base's states), storage dtype, and the bf16 autocast they run under."""
    from embedder.loading import resolve_model

    model = Path(resolve_model(config.model.model)).name
    adapter = lower_adapter_fingerprint(config.model.init_adapter, config.model.frozen_layers)
    dtype = "" if config.prefix_cache_dtype == "float16" else f"-{config.prefix_cache_dtype}"
    return f"{model}-frozen{config.model.frozen_layers}-{adapter}{dtype}{'-bf16' if bf16 else ''}"


def lower_adapter_fingerprint(adapter: str | None, frozen_layers: int) -> str:
    """``fresh`` when a warm start has no LoRA weights in the frozen layers (so they compute what the base
    does and share its cache), else the adapter's content hash."""
    from safetensors import safe_open

    from embedder.loading import adapter_fingerprint, adapter_folder

    if not adapter:
        return "fresh"
    folder = adapter_folder(adapter, setting="init_adapter")
    with safe_open(str(folder / "adapter_model.safetensors"), framework="pt") as weights:
        layers = [layer_index(key) for key in weights.keys()]  # noqa: SIM118 (safe_open is not a dict)
    if any(index is not None and index < frozen_layers for index in layers):
        return adapter_fingerprint(str(folder))
    return "fresh"


def run_steps(
    run: Run, config: TrainConfig, step: int, last: int, progress: bool, elapsed: Callable[[], float]
) -> float:
    """Steps ``step`` .. ``last - 1`` with progress bar, logs and periodic checkpoints; the last loss
    (the last logged one if no step is left)."""
    schedule = batch_schedule(run.examples, config)
    checkpoint = Path(config.output_dir) / "checkpoint"
    loss = last_logged_loss(Path(config.output_dir))
    batch_examples = config.optim.batch_size * world()[1]
    with (
        tqdm(total=config.optim.max_steps, initial=step, desc="training", disable=not progress) as bar,
        LogWriter(Path(config.output_dir), config) as logger,
    ):
        while step < last:
            batch = run.make_batch([run.examples[i] for i in schedule[step]])
            loss, seconds = run.steps.run(step, batch, run.make_pairs(step, config))
            step += 1
            lr = run.scheduler.get_last_lr()[0]
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}")
            if step % config.log_every == 0 or step == last:
                logger.write(
                    step=step,
                    loss=loss,
                    lr=lr,
                    seconds=seconds,
                    examples_seen=step * batch_examples,
                    examples_per_s=batch.size * world()[1] / seconds,
                )
            evaluate = config.eval_every and step % config.eval_every == 0
            if (step % config.save_every == 0 and step < last) or evaluate:
                run.steps.save(checkpoint, step, elapsed())
            if evaluate and world()[0] == 0:
                from .dev import dev_evaluate

                scores = dev_evaluate(checkpoint, config, max_length=config.model.doc_max_length)
                logger.write(step=step, **{f"dev {k}": v for k, v in scores.items()})
                if scores:
                    best = Path(config.output_dir) / "best"
                    keep_if_best(checkpoint, best, step, scores, embedder_settings(config))
    return loss


def last_logged_loss(folder: Path) -> float:
    """The loss of the last step in ``log.jsonl`` (NaN before any)."""
    path = folder / "log.jsonl"
    rows = (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []
    )
    return next((row["loss"] for row in reversed(rows) if "loss" in row), float("nan"))


class LogWriter:
    """Appends one JSON object per logged step to ``log.jsonl`` (and TensorBoard when asked)."""

    def __init__(self, folder: Path, config: TrainConfig):
        self.active = world()[0] == 0
        self.path = folder / "log.jsonl"
        self.board = None
        if self.active and config.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(folder / "tensorboard"))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.board is not None:
            self.board.close()

    def write(self, step: int, **values: float) -> None:
        if not self.active:
            return
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"step": step, "time": round(time.time(), 1), **values}) + "\n")
        if self.board is not None:
            for key, value in values.items():
                self.board.add_scalar(key, value, step)
