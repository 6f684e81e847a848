"""Building the trainable embedder: backbone (optionally truncated) + PEFT LoRA; encoding a batch."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from embedder.loading import adapter_folder, load_backbone, load_tokenizer, resolve_model
from embedder.pooling import get_pooling

from .config import ModelConfig
from .prefix import freeze_lower_layers

if TYPE_CHECKING:
    from peft import LoraConfig, PeftModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def build_model(
    config: ModelConfig, dtype: torch.dtype = torch.float32
) -> tuple[PeftModel, PreTrainedTokenizerBase]:
    """``(peft_model, tokenizer)``: a fresh LoRA on the backbone's linear layers (or the one in
    ``config.init_adapter``, to continue training it), only it trainable; with ``frozen_layers`` only
    the LoRA above them."""
    from peft import LoraConfig, PeftModel, get_peft_model

    model_dir = resolve_model(config.model)
    tokenizer = load_tokenizer(model_dir)
    backbone = load_backbone(model_dir, dtype=dtype, num_layers=config.num_layers)
    if config.gradient_checkpointing:
        backbone.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    backbone.config.use_cache = False
    if config.init_adapter:
        folder = adapter_folder(config.init_adapter, setting="init_adapter")
        # the adapter's shape comes from its folder; dropout is training-time only, so the config's governs
        adapter_config = LoraConfig.from_pretrained(str(folder))
        adapter_config.lora_dropout = config.lora_dropout
        widened = layers_to_widen(adapter_config, config.frozen_layers, len(backbone.layers))
        if widened:
            model = widen_adapter(backbone, folder, adapter_config, widened)
        else:
            model = PeftModel.from_pretrained(backbone, str(folder), is_trainable=True, config=adapter_config)
        freeze_lower_layers(model, config.frozen_layers)
        return model, tokenizer
    targets = config.lora_targets if isinstance(config.lora_targets, str) else list(config.lora_targets)
    if config.frozen_layers and targets == "all-linear":  # peft takes layers_to_transform with a list only
        targets = linear_module_names(backbone)
    upper = list(range(config.frozen_layers, len(backbone.layers))) if config.frozen_layers else None
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        bias="none",
        layers_to_transform=upper,
        layers_pattern="layers" if upper else None,
    )
    return get_peft_model(backbone, lora), tokenizer


def layers_to_widen(adapter_config: LoraConfig, frozen_layers: int, num_layers: int) -> list[int]:
    """The layers a warm start adds LoRA to: those from ``frozen_layers`` up that the adapter leaves out
    (an adapter on the top 9 of 18 layers, trained on with ``frozen_layers = 0``, gets layers 0-8)."""
    if adapter_config.layers_to_transform is None:  # every layer already
        return []
    present = adapter_layers(adapter_config)
    return [i for i in range(frozen_layers, num_layers) if i not in present]


def adapter_layers(adapter_config: LoraConfig) -> set[int]:
    """The layer indices an adapter with ``layers_to_transform`` set covers (PEFT allows an int or a list)."""
    layers = adapter_config.layers_to_transform
    return {layers} if isinstance(layers, int) else set(layers)


def widen_adapter(
    backbone: PreTrainedModel, folder: Path, adapter_config: LoraConfig, extra_layers: list[int]
) -> PeftModel:
    """The adapter in ``folder`` on ``backbone``, plus fresh LoRA of its rank and targets on ``extra_layers``:
    their B starts at zero, so the model computes what the adapter alone does until training moves them."""
    from peft import get_peft_model, set_peft_model_state_dict
    from peft.utils import load_peft_weights

    widened = copy.copy(adapter_config)
    widened.layers_to_transform = sorted(adapter_layers(adapter_config) | set(extra_layers))
    widened.inference_mode = False
    model = get_peft_model(backbone, widened)
    loaded = set_peft_model_state_dict(model, load_peft_weights(str(folder), device="cpu"))
    if loaded.unexpected_keys:
        raise ValueError(
            f"{folder}: weights that the widened adapter has no place for: {loaded.unexpected_keys[:3]}"
        )
    return model


def linear_module_names(backbone: PreTrainedModel) -> list[str]:
    """Names of the linear layers inside the transformer blocks (``q_proj``, ..., ``down_proj``)."""
    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in backbone.layers.named_modules()
            if isinstance(module, torch.nn.Linear)
        }
    )


def encode(model: torch.nn.Module, inputs: dict[str, torch.Tensor], pooling: str = "last") -> torch.Tensor:
    """Embeddings of a padded batch (``pooling``: ``last``, the EOS token's, or ``mean``), not normalised
    (the loss does that)."""
    hidden = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).last_hidden_state
    return get_pooling(pooling)[0](hidden, inputs["attention_mask"])


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
