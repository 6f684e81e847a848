"""Adapter soups: weights checked, the merged update is exactly the weighted mean, shapes must match."""

import json

import pytest
import torch
from typer.testing import CliRunner

from embedder.loading import load_backbone
from trainer.config import ModelConfig
from trainer.model import build_model
from trainer.soup import average_adapters, soup_weights
from ui.cli import app


def test_soup_weights_are_uniform_or_normalised_and_checked():
    assert soup_weights(4, None) == [0.25] * 4
    assert soup_weights(2, [3, 1]) == [0.75, 0.25]
    with pytest.raises(ValueError, match="at least two adapters"):
        soup_weights(1, None)
    with pytest.raises(ValueError, match="3 weights for 2 adapters"):
        soup_weights(2, [1, 1, 1])
    with pytest.raises(ValueError, match="non-negative"):
        soup_weights(2, [1, -1])


def saved_adapter(folder, model_dir, seed: int, template: str = "prompteol"):
    """A rank-4 LoRA of the tiny model with random A and B (so its update is not zero), saved as the trainer
    saves one: PEFT weights and ``embedder.json``."""
    model, _ = build_model(ModelConfig(model=str(model_dir), lora_r=4, gradient_checkpointing=False))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.normal_(std=0.05)
    model.save_pretrained(folder)
    settings = {"model": str(model_dir), "template": template, "num_layers": None, "max_length": 64}
    (folder / "embedder.json").write_text(json.dumps(settings), encoding="utf-8")
    return folder


def merged_weights(model_dir, adapter) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in load_backbone(str(model_dir), adapter=str(adapter)).state_dict().items()}


def test_the_soup_merges_to_the_weighted_mean_of_the_adapters(tmp_path, tiny_llm_dir):
    first = saved_adapter(tmp_path / "a", tiny_llm_dir, seed=1)
    second = saved_adapter(tmp_path / "b", tiny_llm_dir, seed=2)
    soup = average_adapters([first, second], tmp_path / "soup", [3, 1])
    assert json.loads((soup / "adapter_config.json").read_text())["r"] == 8  # ranks add up
    assert json.loads((soup / "embedder.json").read_text())["template"] == "prompteol"
    base = {k: v.clone() for k, v in load_backbone(str(tiny_llm_dir)).state_dict().items()}
    a, b, mean = (merged_weights(tiny_llm_dir, folder) for folder in (first, second, soup))
    changed = [k for k in base if not torch.equal(a[k], base[k])]
    assert any("q_proj" in k for k in changed) and all(not torch.equal(a[k], b[k]) for k in changed)
    for key in base:
        expected = base[key] + 0.75 * (a[key] - base[key]) + 0.25 * (b[key] - base[key])
        torch.testing.assert_close(mean[key], expected, atol=1e-6, rtol=0)


def test_adapters_of_different_shapes_are_refused_and_inputs_kept(tmp_path, tiny_llm_dir):
    first = saved_adapter(tmp_path / "a", tiny_llm_dir, seed=1)
    other = saved_adapter(tmp_path / "b", tiny_llm_dir, seed=2, template="paper")
    with pytest.raises(ValueError, match="template='paper'.* only adapters of one base and shape"):
        average_adapters([first, other], tmp_path / "soup")
    before = (first / "adapter_model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="exists and is not empty"):
        average_adapters([first, first], first)
    assert (first / "adapter_model.safetensors").read_bytes() == before


def test_soup_command(tmp_path, tiny_llm_dir):
    first = saved_adapter(tmp_path / "a", tiny_llm_dir, seed=1)
    second = saved_adapter(tmp_path / "b", tiny_llm_dir, seed=2)
    runner = CliRunner()
    result = runner.invoke(app, ["soup", str(first), str(second), "-o", str(tmp_path / "soup")])
    assert result.exit_code == 0 and "the mean of 2 adapters" in result.output
    assert "| 0.5000 |" in (tmp_path / "soup" / "README.md").read_text()
    missing = runner.invoke(app, ["soup", str(first), str(tmp_path / "nowhere"), "-o", str(tmp_path / "x")])
    assert missing.exit_code != 0 and "has no adapter_config.json" in missing.output
    uneven = runner.invoke(
        app, ["soup", str(first), str(second), "-o", str(tmp_path / "x"), "--weights", "1"]
    )
    assert uneven.exit_code != 0 and "1 weights for 2 adapters" in uneven.output
