"""DeepSpeed ZeRO (stage 3 for 7B models): the engine that holds model, optimiser and schedule when
``TrainConfig.deepspeed`` names a DeepSpeed JSON config. Optional: ``pip install -e ".[deepspeed]"``.

The JSON may say ``"auto"`` where the training config already decides (batch sizes, clipping, bf16,
bucket sizes from the model's hidden size); explicit values must agree with it. Under stage 3 the
backbone is loaded straight into partitions (``HfDeepSpeedConfig``), forward, backward and update go
through the engine, checkpoints are the engine's own (every process writes its partitions with
``torch.save``, frozen weights left out; the adapter beside them stays safetensors), and the LoRA
weights are gathered from all processes to export the adapter.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

import torch
import torch.distributed as dist

from .config import TrainConfig
from .distributed import world
from .export import TrainResult, export_adapter
from .model import build_model, trainable_parameters
from .step import StepRunner, make_optimizer

if TYPE_CHECKING:
    from deepspeed import DeepSpeedEngine
    from transformers import PreTrainedTokenizerBase

T = TypeVar("T")

INSTALL_HINT = 'DeepSpeed is not installed: pip install -e ".[deepspeed]" (or pip install deepspeed)'
CHECKPOINT_TAG = "zero"


def require_deepspeed() -> ModuleType:
    """The ``deepspeed`` module, or an ImportError that says how to install it."""
    try:
        import deepspeed
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return deepspeed


def read_config(config: TrainConfig, world_size: int, hidden_size: int, device: torch.device) -> dict:
    """The DeepSpeed JSON named by ``config.deepspeed``, its ``"auto"`` values filled in; a missing
    file, invalid JSON, sections the trainer owns and values that contradict it are errors."""
    path = Path(config.deepspeed or "").expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"DeepSpeed config {config.deepspeed!r} does not exist")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"DeepSpeed config {path} is not valid JSON: {err}") from err
    owned = [key for key in ("optimizer", "scheduler") if key in raw]
    if owned:
        raise ValueError(
            f"DeepSpeed config {path}: remove {owned}; the trainer builds AdamW and its schedule from [optim]"
        )
    optim = config.optim
    decided = {
        "train_micro_batch_size_per_gpu": optim.batch_size,
        "train_batch_size": optim.batch_size * world_size,
        "gradient_clipping": optim.max_grad_norm,
        "gradient_accumulation_steps": 1,  # in-batch negatives need the whole batch in one loss
    }
    zero = {
        "reduce_bucket_size": hidden_size**2,
        "stage3_prefetch_bucket_size": int(0.9 * hidden_size**2),
        "stage3_param_persistence_threshold": 10 * hidden_size,
    }
    resolved = {
        **raw,
        **{key: _agree(path, key, raw.get(key, "auto"), value) for key, value in decided.items()},
    }
    precision = {"bf16": config.mixed_precision and device.type == "cuda", "fp16": False}  # GPUs only
    for key, enabled in precision.items():
        given = raw.get(key, {}).get("enabled", "auto")
        resolved[key] = {**raw.get(key, {}), "enabled": _agree(path, f"{key}.enabled", given, enabled)}
    section = dict(raw.get("zero_optimization", {}))
    resolved["zero_optimization"] = {
        **section,
        **{key: value for key, value in zero.items() if section.get(key) == "auto"},
    }
    left = [key for key, value in _flatten(resolved) if value == "auto"]
    if left:
        raise ValueError(f"DeepSpeed config {path}: no value for {left}; write them out")
    return resolved


def _agree(path: Path, key: str, given: object, decided: T) -> T:
    """``decided`` for ``"auto"`` (or a value equal to it); a different value is an error."""
    if given == "auto" or given == decided:
        return decided
    raise ValueError(
        f"DeepSpeed config {path}: {key} = {given!r} contradicts the training config ({decided!r}); "
        'use "auto"'
    )


def _flatten(tree: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def join_process_group(deepspeed: ModuleType, device: torch.device) -> None:
    """DeepSpeed's view of the process group (``trainer.distributed`` made it under a launcher;
    without one, a local group of one, with the ``LOCAL_RANK`` that DeepSpeed reads)."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        os.environ.setdefault("LOCAL_RANK", "0")
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    deepspeed.init_distributed(dist_backend=backend)


def engine_settings(config: TrainConfig, device: torch.device) -> dict:
    """DeepSpeed imported, its process group joined, the JSON read for this model and world size."""
    from transformers import AutoConfig

    from embedder.loading import resolve_model

    join_process_group(require_deepspeed(), device)
    hidden = AutoConfig.from_pretrained(resolve_model(config.model.model)).hidden_size
    return read_config(config, world()[1], hidden, device)


def zero_builder(
    config: TrainConfig, device: torch.device
) -> functools.partial[
    tuple[
        DeepSpeedEngine,
        PreTrainedTokenizerBase,
        torch.optim.Optimizer,
        torch.optim.lr_scheduler.LRScheduler,
        ZeroStepRunner,
    ]
]:
    """``zero_setup`` with the engine settings read and checked now (so a bad JSON fails before the data)."""
    return functools.partial(zero_setup, settings=engine_settings(config, device))


def zero_setup(
    config: TrainConfig, device: torch.device, settings: dict
) -> tuple[
    DeepSpeedEngine,
    PreTrainedTokenizerBase,
    torch.optim.Optimizer,
    torch.optim.lr_scheduler.LRScheduler,
    ZeroStepRunner,
]:
    """``(engine, tokenizer, optimizer, scheduler, steps)``: the backbone loaded (partitioned under
    stage 3), LoRA attached, AdamW and schedule handed to ``deepspeed.initialize``."""
    from transformers.integrations import HfDeepSpeedConfig

    deepspeed = require_deepspeed()
    partitioned_loading = HfDeepSpeedConfig(settings)  # noqa: F841 (alive while from_pretrained runs)
    dtype = torch.bfloat16 if settings["bf16"]["enabled"] else torch.float32
    model, tokenizer = build_model(config.model, dtype=dtype)
    optimizer, scheduler = make_optimizer(trainable_parameters(model), config)
    engine, optimizer, _, scheduler = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=settings
    )
    engine.train()
    return engine, tokenizer, optimizer, scheduler, ZeroStepRunner(engine, config, device)


class ZeroStepRunner(StepRunner):
    """The step, checkpoints and export through a DeepSpeed engine; every process calls each method."""

    def __init__(self, engine: DeepSpeedEngine, config: TrainConfig, device: torch.device):
        super().__init__(engine, [], engine.optimizer, engine.lr_scheduler, config, device)
        self.engine = engine
        self.autocast = contextlib.nullcontext  # the engine runs bf16 itself when configured

    def backward(self, loss: torch.Tensor) -> None:
        """DeepSpeed averages gradients over processes; each holds a share of one global loss, to be summed."""
        self.engine.backward(loss * world()[1])

    def update(self) -> None:
        self.engine.step()  # clipping, AdamW, schedule, zeroed gradients

    def save(self, folder: Path, step: int, wall_seconds: float) -> None:
        """The engine's checkpoint (each process its partitions, no frozen weights) and the gathered
        adapter beside it (for dev evaluation), staged and then renamed into ``folder``."""
        staging = folder.with_name(folder.name + ".tmp")
        if world()[0] == 0:
            shutil.rmtree(staging, ignore_errors=True)
        dist.barrier()
        self.engine.save_checkpoint(
            str(staging),
            tag=CHECKPOINT_TAG,
            exclude_frozen_parameters=True,
            client_state={"step": step, "wall_seconds": wall_seconds},
        )
        with self.gathered():
            if world()[0] == 0:
                self.engine.module.save_pretrained(staging)
        dist.barrier()
        if world()[0] == 0:
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        dist.barrier()

    def load(self, folder: Path) -> tuple[int, float]:
        _, state = self.engine.load_checkpoint(str(folder), tag=CHECKPOINT_TAG, load_module_strict=False)
        return int(state["step"]), float(state.get("wall_seconds") or 0.0)

    def export(self, config: TrainConfig, result: TrainResult) -> None:
        with self.gathered():
            if world()[0] == 0:
                export_adapter(self.engine.module, config, result)
        dist.barrier()

    def gathered(self) -> contextlib.AbstractContextManager[None]:
        """The full LoRA weights on every process while inside (a collective; ZeRO-3 partitions them)."""
        return require_deepspeed().zero.GatheredParameters(trainable_parameters(self.engine.module))
