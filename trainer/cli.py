"""Commands of this package for the ``e5`` CLI (see ``ui.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embedder.console import fail


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.command("train")(train_command)
    app.command("mine")(mine_command)
    app.command("soup")(soup_command)


def train_command(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="training config (TOML), e.g. trainer/configs/default-cpu.toml"),
    ],
    output_dir: Annotated[str | None, typer.Option(help="where the adapter, checkpoint and log go")] = None,
    model: Annotated[str | None, typer.Option(help="HF id or folder of the causal LM to adapt")] = None,
    num_layers: Annotated[int | None, typer.Option(help="keep only the first K transformer layers")] = None,
    template: Annotated[str | None, typer.Option(help="prompt template (paper, prompteol)")] = None,
    max_steps: Annotated[int | None, typer.Option(help="optimisation steps")] = None,
    batch_size: Annotated[int | None, typer.Option(help="pairs per step (per process)")] = None,
    chunk_size: Annotated[int | None, typer.Option(help="GradCache chunk (0: off)")] = None,
    lr: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    stop_after: Annotated[
        int | None, typer.Option(help="checkpoint and stop at this step; rerun to resume")
    ] = None,
    deepspeed: Annotated[
        str | None,
        typer.Option(help="DeepSpeed JSON config, e.g. trainer/configs/deepspeed-zero3.json (ZeRO-3)"),
    ] = None,
) -> None:
    """Fine-tune a LoRA embedding adapter with InfoNCE; resumes from the output folder's checkpoint."""
    from trainer.config import load_config
    from trainer.data import DataError
    from trainer.train import train

    if not config.is_file():
        fail(f"config file {config} does not exist")
    overrides = {
        "output_dir": output_dir,
        "model.model": model,
        "model.num_layers": num_layers,
        "model.template": template,
        "optim.max_steps": max_steps,
        "optim.batch_size": batch_size,
        "optim.chunk_size": chunk_size,
        "optim.lr": lr,
        "device": device,
        "seed": seed,
        "deepspeed": deepspeed,
    }
    try:
        settings = load_config(config, overrides)
        result = train(settings, stop_after=stop_after)
    except (DataError, FileNotFoundError, ImportError, ValueError) as err:
        fail(str(err))
    if result.steps < settings.optim.max_steps:
        typer.echo(
            f"stopped at step {result.steps} of {settings.optim.max_steps}; rerun the command to resume"
        )
        return
    typer.echo(
        f"adapter: {result.adapter_dir} ({result.steps} steps, final loss {result.final_loss:.4f}, "
        f"{result.wall_seconds / 60:.1f} min)"
    )


def mine_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="the training config whose data to re-mine")],
    adapter: Annotated[Path, typer.Option(help="the adapter a stage produced (it ranks the candidates)")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="JSONL to write (a jsonl source for the next stage)")
    ],
    depth: Annotated[int, typer.Option(help="how deep in each ranking to look for a negative")] = 30,
    dtype: Annotated[
        str, typer.Option(help="weights of the ranking encoder: auto, float32, bfloat16 (2x faster on AMX)")
    ] = "auto",
    max_length: Annotated[
        int | None, typer.Option(help="token limit of the texts ranked (default: the config's)")
    ] = None,
) -> None:
    """Re-mine hard negatives with a trained adapter (ANCE-style): each training query's best-ranked
    non-positive document of its source, skipping those the config's teacher ranks above the positive."""
    from trainer.config import load_config
    from trainer.data import DataError
    from trainer.mining import mine_stage

    for path, what in ((config, "config file"), (adapter, "adapter folder")):
        if not path.exists():
            fail(f"{what} {path} does not exist")
    try:
        written, mined = mine_stage(load_config(config), adapter, output, depth, dtype, max_length)
    except (DataError, FileNotFoundError, ImportError, ValueError) as err:
        fail(str(err))
    typer.echo(f"{output}: {written} examples, {mined} with a negative mined by {adapter}")


def soup_command(
    adapters: Annotated[list[Path], typer.Argument(help="adapter folders of one base and shape")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder to write the averaged adapter to")],
    weights: Annotated[
        str | None, typer.Option(help="comma-separated weights, one per adapter (default: uniform)")
    ] = None,
) -> None:
    """Average adapters into one (a model soup): the weighted mean of their weight updates, exact."""
    from trainer.soup import average_adapters

    try:
        mix = [float(w) for w in weights.split(",")] if weights else None
        folder = average_adapters(adapters, output, mix)
    except (FileNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"{folder}: the mean of {len(adapters)} adapters")
