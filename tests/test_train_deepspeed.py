"""DeepSpeed wiring. Always: the JSON config is checked and its "auto" values filled from the training
config; a missing install, file or bad JSON is a clear error. With DeepSpeed installed (the optional
``deepspeed`` extra), real ZeRO-3 runs on CPU over gloo: two processes' gradients equal one process's
on the whole batch, and ``train`` equals plain training, checkpoints, resumes and exports through the engine."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_train_ddp import free_port
from test_train_model import EXAMPLES, NO_AUTOCAST, batch_for, grads, tiny_model, write_pairs
from typer.testing import CliRunner

from trainer.config import ModelConfig, OptimConfig, SourceConfig, TrainConfig
from trainer.step import backward_plain
from trainer.zero import INSTALL_HINT, read_config
from ui.cli import app

ZERO3 = Path(__file__).parents[1] / "trainer" / "configs" / "deepspeed-zero3.json"
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def train_config(deepspeed=ZERO3, **options) -> TrainConfig:
    return TrainConfig(
        data=(SourceConfig("jsonl", "unused"),),
        deepspeed=str(deepspeed),
        optim=OptimConfig(batch_size=8, max_grad_norm=0.5),
        **options,
    )


def test_auto_values_come_from_the_training_config():
    settings = read_config(train_config(), world_size=4, hidden_size=64, device=CUDA)
    assert (settings["train_micro_batch_size_per_gpu"], settings["train_batch_size"]) == (8, 32)
    assert (settings["gradient_accumulation_steps"], settings["gradient_clipping"]) == (1, 0.5)
    assert settings["bf16"]["enabled"] is True and settings["fp16"]["enabled"] is False
    zero = settings["zero_optimization"]
    assert (
        zero["stage"],
        zero["reduce_bucket_size"],
        zero["stage3_prefetch_bucket_size"],
        zero["stage3_param_persistence_threshold"],
    ) == (3, 4096, 3686, 640)
    assert read_config(train_config(mixed_precision=False), 4, 64, CUDA)["bf16"]["enabled"] is False
    assert (
        read_config(train_config(), 1, 64, CPU)["bf16"]["enabled"] is False
    )  # bf16 is for GPUs, as autocast


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"gradient_accumulation_steps": 4},
            "gradient_accumulation_steps = 4 contradicts the training config",
        ),
        ({"train_micro_batch_size_per_gpu": 16}, "train_micro_batch_size_per_gpu = 16 contradicts"),
        ({"bf16": {"enabled": True}}, "bf16.enabled = True contradicts"),
        ({"optimizer": {"type": "AdamW"}}, r"remove \['optimizer'\]"),
        (
            {"zero_optimization": {"stage": 3, "sub_group_size": "auto"}},
            r"no value for \['zero_optimization.sub",
        ),
    ],
)
def test_settings_the_trainer_owns_must_agree(tmp_path, change, message):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({**json.loads(ZERO3.read_text()), **change}))
    with pytest.raises(ValueError, match=message):
        read_config(train_config(path), 1, 64, CPU)


def test_missing_or_broken_config_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="DeepSpeed config .*nowhere.json' does not exist"):
        read_config(train_config(tmp_path / "nowhere.json"), 1, 64, CPU)
    (tmp_path / "bad.json").write_text('{"zero_optimization": {"stage": 3,}}')
    with pytest.raises(ValueError, match="bad.json is not valid JSON: .*line 1"):
        read_config(train_config(tmp_path / "bad.json"), 1, 64, CPU)
    with pytest.raises(ValueError, match="deepspeed must name a DeepSpeed JSON config file"):
        train_config(tmp_path / "ds.yaml")
    with pytest.raises(ValueError, match="with deepspeed, chunk_size must be 0 .* or at least 2"):
        TrainConfig(
            data=(SourceConfig("jsonl", "unused"),), deepspeed=str(ZERO3), optim=OptimConfig(chunk_size=1)
        )
    with pytest.raises(ValueError, match="with deepspeed, task_batches needs chunk_size 0"):
        TrainConfig(
            data=(SourceConfig("jsonl", "unused"),),
            deepspeed=str(ZERO3),
            optim=OptimConfig(chunk_size=4, task_batches=True),
        )


def test_without_deepspeed_the_cli_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "deepspeed", None)  # import deepspeed now raises ImportError
    config = tmp_path / "train.toml"
    config.write_text(f'output_dir = "{tmp_path / "run"}"\n[[data]]\nkind = "jsonl"\npath = "unused.jsonl"\n')
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--deepspeed", str(ZERO3)])
    assert result.exit_code == 2 and result.output.strip() == f"error: {INSTALL_HINT}"
    assert not (tmp_path / "run").exists()


WORKER = """
import contextlib, sys, torch
from safetensors.torch import save_file
sys.path.insert(0, {tests!r})
from deepspeed.utils import safe_get_full_grad
from test_train_model import EXAMPLES, batch_for
from trainer.config import ModelConfig, SourceConfig, TrainConfig
from trainer.distributed import init_from_env, world
from trainer.step import backward_grad_cache
from trainer.zero import engine_settings, zero_setup

device = init_from_env(torch.device("cpu"))
config = TrainConfig(data=(SourceConfig("jsonl", "unused"),), deepspeed={zero3!r}, device="cpu",
                     model=ModelConfig(model={model!r}, init_adapter={adapter!r}, template="prompteol",
                                       query_max_length=40, doc_max_length=32, gradient_checkpointing=False))
engine, tokenizer, _, _, steps = zero_setup(config, device, engine_settings(config, device))
rank, size = world()
batch = batch_for(tokenizer, EXAMPLES[rank * 3 : rank * 3 + 3])  # rank 0 has one hard negative, rank 1 two
loss = backward_grad_cache(engine, batch, 0.05, 2, contextlib.nullcontext, steps.backward)
full = {{name: safe_get_full_grad(p) for name, p in engine.module.named_parameters() if p.requires_grad}}
save_file({{**full, "loss": torch.tensor([loss])}}, {out!r} + f"/rank{{rank}}.safetensors")
"""


@pytest.mark.slow
def test_zero3_two_processes_with_grad_cache_match_one_process(tmp_path, tiny_llm_dir):
    pytest.importorskip("deepspeed")
    from safetensors.torch import load_file

    reference, tokenizer = tiny_model(tiny_llm_dir)  # LoRA B made non-zero so A gets gradients too
    reference.save_pretrained(tmp_path / "adapter")
    loss = backward_plain(reference, batch_for(tokenizer, EXAMPLES), 0.05, NO_AUTOCAST)
    script = tmp_path / "worker.py"
    script.write_text(
        WORKER.format(
            tests=str(Path(__file__).parent),
            zero3=str(ZERO3),
            model=str(tiny_llm_dir),
            adapter=str(tmp_path / "adapter"),
            out=str(tmp_path),
        )
    )
    env = {
        **os.environ,
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "OMP_NUM_THREADS": "1",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, str(script)],
            env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]
    for rank in range(2):
        result = load_file(tmp_path / f"rank{rank}.safetensors")
        assert abs(result.pop("loss").item() - loss) < 1e-4
        assert set(result) == set(grads(reference))
        for name, grad in grads(reference).items():
            torch.testing.assert_close(result[name], grad, rtol=1e-3, atol=1e-6)


@pytest.mark.slow
def test_zero3_training_equals_plain_and_resumes_through_the_engine(tmp_path, tiny_llm_dir):
    pytest.importorskip("deepspeed")
    from safetensors.torch import load_file

    from trainer.train import train

    data = write_pairs(tmp_path / "pairs.jsonl")

    def config(out, deepspeed):
        return TrainConfig(
            output_dir=str(tmp_path / out),
            data=(SourceConfig("jsonl", str(data)),),
            save_every=2,
            device="cpu",
            deepspeed=str(ZERO3) if deepspeed else None,
            model=ModelConfig(
                model=str(tiny_llm_dir), query_max_length=40, doc_max_length=32, template="prompteol"
            ),
            optim=OptimConfig(batch_size=3, max_steps=4, warmup_steps=1, lr=1e-3, chunk_size=2),
        )

    plain = train(config("plain", False), progress=False)
    zero = train(config("zero", True), progress=False)
    assert train(config("resumed", True), progress=False, stop_after=2).steps == 2
    assert (tmp_path / "resumed" / "checkpoint" / "zero").is_dir()  # the engine's own checkpoint
    resumed = train(config("resumed", True), progress=False)
    logs = [
        [json.loads(line) for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
        for run in ("plain", "zero", "resumed")
    ]
    assert [(r["step"], r["lr"]) for r in logs[0]] == [(r["step"], r["lr"]) for r in logs[1]] == [
        (r["step"], r["lr"]) for r in logs[2]
    ] and len(logs[0]) == 4
    assert [r["loss"] for r in logs[1]] == pytest.approx([r["loss"] for r in logs[0]], rel=1e-4)
    assert [r["loss"] for r in logs[2]] == [r["loss"] for r in logs[1]]
    weights = [load_file(r.adapter_dir / "adapter_model.safetensors") for r in (plain, zero, resumed)]
    assert set(weights[0]) == set(weights[1]) == set(weights[2]) != set()
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor, rtol=1e-3, atol=1e-5)
        torch.testing.assert_close(weights[2][name], weights[1][name])
    assert json.loads((zero.adapter_dir / "embedder.json").read_text())["template"] == "prompteol"
