"""Writing a finished adapter: PEFT weights, the embedder settings (``embedder.json``), a model card."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from embedder.loading import EMBEDDER_CONFIG_FILE

from .config import TrainConfig

if TYPE_CHECKING:
    from peft import PeftModel


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: where the adapter is, steps done, last loss, total wall time, data counts."""

    adapter_dir: Path
    steps: int
    final_loss: float
    wall_seconds: float
    data_counts: dict


def embedder_settings(config: TrainConfig) -> dict:
    """The ``EmbedderConfig`` fields an adapter needs at inference (read by ``embedder.registry``); ``model``
    ties it to its base (``None``: the default SmolLM2)."""
    model = config.model
    return {
        "model": model.model,
        "template": model.template,
        "num_layers": model.num_layers,
        "max_length": model.inference_max_length,
        "pooling": model.pooling,
    }


def export_adapter(model: PeftModel, config: TrainConfig, result: TrainResult) -> Path:
    """Save the adapter folder: ``adapter_model.safetensors``, ``embedder.json``, ``train_config.json``, README."""
    folder = result.adapter_dir
    model.save_pretrained(folder, safe_serialization=True)
    (folder / EMBEDDER_CONFIG_FILE).write_text(
        json.dumps(embedder_settings(config), indent=2) + "\n", encoding="utf-8"
    )
    (folder / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    write_card(folder, config, result)
    return folder


def write_card(folder: Path, config: TrainConfig, result: TrainResult, metrics: dict | None = None) -> None:
    """A model card with the resolved config, data sources and counts, wall time and metrics."""
    model = config.model
    lines = [
        f"# LoRA embedding adapter ({model.model or 'SmolLM2-135M-Instruct'})",
        "",
        (
            f"Trained with `e5 train` (trainer/): InfoNCE (cosine, temperature {config.optim.temperature}), "
            f"in-batch + hard negatives, LoRA r={model.lora_r} alpha={model.lora_alpha} on {model.lora_targets}, "
            f"first {model.num_layers or 'all'} layers, template `{model.template}`."
        ),
        "",
        (
            f"- steps: {result.steps} of {config.optim.max_steps} x batch {config.optim.batch_size}; "
            f"last loss {result.final_loss:.4f}"
        ),
        (
            f"- wall time: {result.wall_seconds / 60:.1f} min on {platform.machine()} "
            f"(Python {sys.version.split()[0]})"
        ),
        "",
        "## Data",
        "",
        "| source | read | used (after weight) |",
        "|---|---:|---:|",
        *(
            f"| {name} | {c['read']} | {c['weighted']} |"
            for name, c in result.data_counts.items()
            if isinstance(c, dict)
        ),
        f"| total after dedup and leak check | | {result.data_counts.get('total', '?')} |",
        "",
        "## Metrics",
        "",
        *(f"- {k}: {v}" for k, v in (metrics or {}).items()),
        *([] if metrics else ["(none recorded at export; see the project's notes)"]),
        "",
        "## Resolved config",
        "",
        "```json",
        json.dumps(config.to_dict(), indent=2),
        "```",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
