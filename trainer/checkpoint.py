"""Checkpoints without pickle: LoRA weights and optimizer tensors as safetensors, the rest as JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from embedder.loading import EMBEDDER_CONFIG_FILE

if TYPE_CHECKING:
    from peft import PeftModel

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"


def save_checkpoint(
    folder: Path,
    model: PeftModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    step: int,
    wall_seconds: float | None = None,
) -> None:
    """Write adapter, optimizer and schedule state for ``step`` atomically (staging folder, then rename);
    ``wall_seconds`` is the training time so far (carried across resumes into the model card)."""
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    state = optimizer.state_dict()
    tensors = {
        f"{index}.{name}": value.contiguous()
        for index, slots in state["state"].items()
        for name, value in slots.items()
    }
    save_file(tensors, staging / OPTIMIZER_FILE)
    meta = {
        "step": step,
        "wall_seconds": wall_seconds,
        "param_groups": state["param_groups"],
        "scheduler": scheduler.state_dict(),
    }
    (staging / STATE_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def load_checkpoint(
    folder: Path,
    model: PeftModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[int, float]:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns the step to continue from
    and the wall seconds spent so far (0 when not recorded)."""
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, load_file(folder / "adapter_model.safetensors"))
    meta = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in load_file(folder / OPTIMIZER_FILE).items():
        index, name = key.split(".", 1)
        slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    return int(meta["step"]), float(meta.get("wall_seconds") or 0.0)


BEST_FILE = "dev.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def keep_if_best(checkpoint: Path, best: Path, step: int, scores: dict[str, float], settings: dict) -> bool:
    """Copy the checkpoint's adapter to ``best`` (with ``embedder.json`` from ``settings`` and the dev
    scores in ``dev.json``) when its mean dev score beats the one kept there; the latest checkpoint is
    overwritten every ``save_every`` steps, so without this a better earlier state is lost. Atomic like
    :func:`save_checkpoint`. Returns whether it was kept."""
    mean = sum(scores.values()) / len(scores)
    record = best / BEST_FILE
    if record.is_file() and json.loads(record.read_text(encoding="utf-8"))["mean"] >= mean:
        return False
    staging = best.with_name(best.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ADAPTER_FILES:
        shutil.copy2(checkpoint / name, staging / name)
    (staging / EMBEDDER_CONFIG_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    (staging / BEST_FILE).write_text(
        json.dumps({"step": step, "mean": mean, "scores": scores}, indent=2) + "\n", encoding="utf-8"
    )
    shutil.rmtree(best, ignore_errors=True)
    staging.rename(best)
    return True
