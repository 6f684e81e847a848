"""Frozen-prefix training: the lower layers run once per text, their hidden states cached on disk.

When LoRA trains only the top layers of the backbone, the hidden states that the frozen lower layers
produce for a text never change: they depend only on the token ids (template included) and the frozen
weights. :class:`PrefixModel` splits the backbone into a frozen ``lower`` and a trainable ``top`` stack
(sharing the backbone's own modules, so saving the PEFT model saves everything), computes the lower
states under ``no_grad`` (from :class:`HiddenStateCache` when one is given, keyed by a content hash),
and runs forward and backward through the top layers only. Its output equals the full backbone's
(``last_hidden_state``), so the contrastive step is unchanged.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers.modeling_outputs import BaseModelOutput

log = logging.getLogger(__name__)


def inner_backbone(model: torch.nn.Module) -> torch.nn.Module:
    """The transformer body (``.layers``, ``.norm``) under a PEFT wrapper or a plain backbone."""
    body = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not hasattr(body, "layers"):
        raise ValueError(f"{type(body).__name__} has no .layers: frozen-prefix training needs a decoder body")
    return body


def layer_stack(body: torch.nn.Module, start: int, stop: int, final_norm: bool) -> torch.nn.Module:
    """A shallow copy of ``body`` running only ``layers[start:stop]`` (same module objects, so same
    parameters), with the final norm kept or replaced by identity."""
    stack = copy.copy(body)
    stack._modules = dict(body._modules)
    stack.layers = torch.nn.ModuleList(list(body.layers)[start:stop])
    if not final_norm:
        stack.norm = torch.nn.Identity()
    stack.config = copy.copy(body.config)
    stack.config.num_hidden_layers = stop - start
    if getattr(body.config, "layer_types", None):
        stack.config.layer_types = list(body.config.layer_types)[start:stop]
    return stack


def freeze_lower_layers(model: torch.nn.Module, frozen_layers: int) -> None:
    """Turn off gradients of every parameter in layers below ``frozen_layers`` (LoRA included)."""
    for name, param in model.named_parameters():
        index = layer_index(name)
        if index is not None and index < frozen_layers:
            param.requires_grad_(False)


def layer_index(parameter_name: str) -> int | None:
    """``7`` for ``base_model.model.layers.7.self_attn.q_proj.lora_A.default.weight``; ``None`` outside layers.

    >>> layer_index("model.layers.12.mlp.up_proj.weight"), layer_index("model.norm.weight")
    (12, None)
    """
    parts = parameter_name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part == "layers" and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


class HiddenStateCache:
    """Hidden states of token sequences, one safetensors file per text under ``folder/<key>/``.

    ``key`` names what the states depend on besides the tokens (model, adapter, frozen depth); the
    file name is a hash of the token ids. States are stored in ``dtype`` (fp16 halves the disk) and
    returned in float32. Writing stops (with one warning) once ``max_bytes`` are on disk.
    """

    def __init__(
        self, folder: str | Path, key: str, dtype: torch.dtype = torch.float16, max_bytes: int = 20 * 2**30
    ):
        self.folder = Path(folder) / key
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dtype, self.max_bytes = dtype, max_bytes
        self.bytes = sum(f.stat().st_size for f in self.folder.glob("*/*.safetensors"))
        self.hits = self.misses = 0
        self._full_warned = False

    def path(self, ids: torch.Tensor) -> Path:
        digest = hashlib.blake2b(ids.to(torch.int64).numpy().tobytes(), digest_size=16).hexdigest()
        return self.folder / digest[:2] / f"{digest}.safetensors"

    def get(self, ids: torch.Tensor) -> torch.Tensor | None:
        path = self.path(ids)
        if not path.is_file():
            self.misses += 1
            return None
        self.hits += 1
        return load_file(path)["h"].float()

    def put(self, ids: torch.Tensor, hidden: torch.Tensor) -> None:
        if self.bytes >= self.max_bytes:
            if not self._full_warned:
                log.warning(
                    "prefix cache %s is full (%.1f GB); new texts are computed, not stored",
                    self.folder,
                    self.bytes / 2**30,
                )
                self._full_warned = True
            return
        path = self.path(ids)
        path.parent.mkdir(exist_ok=True)
        staging = path.with_suffix(".tmp")
        save_file({"h": hidden.to(self.dtype).contiguous()}, staging)
        staging.replace(path)  # atomic: a reader never sees half a file
        self.bytes += path.stat().st_size


class PrefixModel(torch.nn.Module):
    """The backbone as ``lower`` (frozen, ``frozen_layers`` blocks, cached) + ``top`` (trainable).

    Called like the backbone (``input_ids``, right-padded ``attention_mask``); returns the same
    ``last_hidden_state``. The lower stack always runs in eval mode (no dropout), so a cached
    state equals a recomputed one.
    """

    def __init__(self, model: torch.nn.Module, frozen_layers: int, cache: HiddenStateCache | None = None):
        super().__init__()
        body = inner_backbone(model)
        if not 0 < frozen_layers < len(body.layers):
            raise ValueError(
                f"frozen_layers must be between 1 and {len(body.layers) - 1}, got {frozen_layers}"
            )
        self.lower = layer_stack(body, 0, frozen_layers, final_norm=False)
        self.top = layer_stack(body, frozen_layers, len(body.layers), final_norm=True)
        self.cache = cache

    def lower_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        """Per row, the frozen layers' output over its real tokens (``(length, hidden)``)."""
        lengths = attention_mask.sum(dim=1).tolist()
        rows = [input_ids[i, :n].cpu() for i, n in enumerate(lengths)]
        states = [self.cache.get(ids) if self.cache else None for ids in rows]
        missing = [i for i, s in enumerate(states) if s is None]
        if missing:
            width = max(lengths[i] for i in missing)
            was_training = self.lower.training
            self.lower.eval()
            with torch.no_grad():  # under the step's autocast, if any: the cache key names it
                out = self.lower(
                    input_ids=input_ids[missing, :width], attention_mask=attention_mask[missing, :width]
                ).last_hidden_state
            self.lower.train(was_training)
            stored = self.cache.dtype if self.cache else torch.float32
            for row, i in enumerate(missing):
                # rounded as the cache stores it: a fresh state equals a cached one, so runs are reproducible
                states[i] = out[row, : lengths[i]].to(stored).float().cpu()
                if not torch.isfinite(states[i]).all():
                    raise ValueError(
                        f"the frozen layers' hidden states overflow {stored} (largest "
                        f"{out[row].abs().max():.0f}); store them as float32 (prefix_cache_dtype)"
                    )
                if self.cache:
                    self.cache.put(rows[i], states[i])
        return states

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> BaseModelOutput:
        states = self.lower_states(input_ids, attention_mask)
        hidden = torch.zeros(*input_ids.shape, states[0].shape[-1], device=input_ids.device)
        for i, state in enumerate(states):
            hidden[i, : state.shape[0]] = state.to(hidden.device)
        out = self.top(
            inputs_embeds=hidden.to(next(self.top.parameters()).dtype), attention_mask=attention_mask
        )
        return BaseModelOutput(last_hidden_state=out.last_hidden_state)
