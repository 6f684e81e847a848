"""The paper's embedder: a decoder LLM, EOS appended, last-token pooling (or mean), L2-normalised."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..batching import (
    fit_in_template,
    length_sorted_batches,
    pad_batch,
    token_budget_batches,
    tokenize_with_eos,
)
from ..config import EmbedderConfig
from ..loading import (
    DEFAULT_MODEL_NAME,
    adapter_config,
    adapter_fingerprint,
    load_backbone,
    load_tokenizer,
    pick_device,
    pick_dtype,
    resolve_model,
)
from ..packing import PACKED_ATTENTION, pack_batch
from ..pooling import get_pooling
from ..prompts import get_template
from ..protocol import check_texts, l2_normalize

log = logging.getLogger(__name__)


class LLMEncoder:
    """Encoder over any Hugging Face causal LM (the packaged SmolLM2-135M by default)."""

    def __init__(self, config: EmbedderConfig | None = None, *, show_progress: bool | None = None):
        self.config = config = config or EmbedderConfig()
        self.template = get_template(config.template)
        self.pool_padded, self.pool_packed = get_pooling(config.pooling)
        self.show_progress = show_progress
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = pick_device(config.device)
        model_dir = resolve_model(config.model)
        self.tokenizer = load_tokenizer(model_dir)
        self.model = load_backbone(
            model_dir,
            dtype=pick_dtype(config.dtype, self.device),
            num_layers=config.num_layers,
            adapter=config.adapter,
        )
        self.model.to(self.device).eval()
        if config.packing:
            self.model.set_attn_implementation(PACKED_ATTENTION)
        self.forward_model = compile_for_inference(self.model) if config.compile else self.model
        self.dim = int(self.model.config.hidden_size)
        # the dense weight of hybrid search chosen on dev for this adapter, if one was (embedder.fusion.fusion_for)
        self.fusion_alpha = adapter_config(config.adapter).get("fusion_alpha") if config.adapter else None
        self.name = self._describe()
        self.last_truncated = 0

    def _describe(self) -> str:
        config = self.config
        base = DEFAULT_MODEL_NAME if config.model is None else Path(config.model).name or config.model
        parts = [base, config.template]
        if config.num_layers:
            parts.append(f"L{config.num_layers}")
        if config.pooling != "last":
            parts.append(f"{config.pooling}-pooled")
        if config.adapter:
            parts.append(f"lora-{adapter_fingerprint(config.adapter)}")
        return "llm:" + "/".join(parts)

    def encode_queries(self, texts: list[str], instruction: str) -> np.ndarray:
        return self.encode_wrapped(
            check_texts(texts), lambda text: self.template.format_query(instruction, text)
        )

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self.encode_wrapped(check_texts(texts), self.template.format_document)

    def encode_wrapped(self, texts: list[str], wrap: Callable[[str], str]) -> np.ndarray:
        """Encode texts inside their prompt template, cutting over-long texts so the template survives."""
        formatted, truncated = fit_in_template(
            self.tokenizer, texts, [wrap] * len(texts), self.config.max_length
        )
        vectors = self.encode_raw(formatted)
        if truncated:
            log.warning(
                "%d of %d texts exceeded max_length=%d tokens and were truncated",
                truncated,
                len(texts),
                self.config.max_length,
            )
        self.last_truncated = truncated
        return vectors

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts as the encoder will see them (EOS included, before truncation)."""
        ids = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return [len(row) + 1 for row in ids]

    @torch.inference_mode()
    def encode_raw(self, texts: list[str]) -> np.ndarray:
        """Encode already-formatted texts (cut at ``max_length`` tokens, EOS kept): batches of
        similar length, packed without padding (``config.packing``), results in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids, self.last_truncated = tokenize_with_eos(self.tokenizer, texts, self.config.max_length)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        show = (
            self.show_progress if self.show_progress is not None else len(texts) > 4 * self.config.batch_size
        )
        with tqdm(total=len(texts), desc="encoding", unit="text", disable=not show) as bar:
            for batch in self.batches([len(r) for r in ids]):
                out[batch] = self.forward([ids[i] for i in batch])
                bar.update(len(batch))
        return out

    def batches(self, lengths: list[int]) -> Iterator[list[int]]:
        """Packed: up to ``batch_tokens`` tokens a batch; padded: ``batch_size`` texts of similar length."""
        if self.config.packing:
            return token_budget_batches(lengths, self.config.batch_tokens)
        return length_sorted_batches(lengths, self.config.batch_size)

    def forward(self, rows: list[list[int]]) -> np.ndarray:
        """Unit vectors for one batch of id lists: packed end to end, or padded to the longest."""
        packed = self.config.packing
        batch = pack_batch(rows) if packed else pad_batch(rows, self.tokenizer.pad_token_id)
        inputs = {k: v.to(self.device) for k, v in batch.items()}
        hidden = self.forward_model(**inputs).last_hidden_state
        if packed:
            pooled = self.pool_packed(hidden, inputs["cu_seq_lens_q"])
        else:
            pooled = self.pool_padded(hidden, inputs["attention_mask"])
        return l2_normalize(pooled.float().cpu().numpy())


def compile_for_inference(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` for encoding: fused element-wise kernels (norms, rotary, SiLU). Shapes are
    dynamic, since every batch has another token count; inductor's weight freezing and merged
    projections made no measurable difference with them on CPU, so they are left off."""
    return torch.compile(model, dynamic=True)
