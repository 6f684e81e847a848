"""Model specs, the same everywhere (CLI, UI, server, benchmarks), mapped onto encoder backends.

``default``          the project's embedder: SmolLM2-135M + the adapter committed under
                     ``embedder/adapters/default`` (the bare base model, PromptEOL template, if absent)
``base``             SmolLM2-135M-Instruct zero-shot with the paper's recipe
``base-prompteol``   SmolLM2-135M-Instruct zero-shot with the PromptEOL template
``minilm``           all-MiniLM-L6-v2 (sentence-transformers baseline)
``hash``             feature-hashing bag of words (instant, lexical; tests and demos)
``openai:<model>``   OpenAI or any OpenAI-compatible endpoint (``OPENAI_BASE_URL``)
anything else        a Hugging Face causal LM id or local folder
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .protocol import Encoder
from .settings import EmbedderConfig

DEFAULT_ADAPTER = Path(__file__).with_name("adapters") / "default"
EMBEDDER_CONFIG_FILE = "embedder.json"  # written by the trainer beside every adapter

MODELS: dict[str, str] = {
    "default": "the project's embedder: SmolLM2-135M-Instruct + the trained LoRA adapter",
    "base": "SmolLM2-135M-Instruct zero-shot, paper recipe (instruction + EOS, last token)",
    "base-prompteol": "SmolLM2-135M-Instruct zero-shot, PromptEOL template",
    "minilm": "all-MiniLM-L6-v2 (sentence-transformers baseline, 384-d)",
    "hash": "feature-hashing bag of words (lexical, no model; for tests and demos)",
    "openai:<model>": "OpenAI embeddings or any OpenAI-compatible endpoint (OPENAI_BASE_URL)",
    "<hf-id or folder>": "any Hugging Face causal LM, e.g. intfloat/e5-mistral-7b-instruct on a GPU",
}


def adapter_config(adapter: str | Path) -> dict:
    """The embedder settings saved beside an adapter by the trainer (template, depth, length)."""
    path = Path(adapter) / EMBEDDER_CONFIG_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def default_config() -> EmbedderConfig:
    if (DEFAULT_ADAPTER / "adapter_config.json").is_file():
        saved = adapter_config(DEFAULT_ADAPTER)
        fields = {f.name for f in dataclasses.fields(EmbedderConfig)} - {"adapter", "device", "dtype", "threads"}
        return EmbedderConfig(adapter=str(DEFAULT_ADAPTER), **{k: v for k, v in saved.items() if k in fields})
    return EmbedderConfig(template="prompteol")


def llm_config(spec: str, adapter: str | None = None) -> EmbedderConfig:
    """The LLM embedder settings a spec stands for (before per-call overrides)."""
    if spec == "default":
        return default_config()
    if spec == "base":
        return EmbedderConfig(template="paper")
    if spec == "base-prompteol":
        return EmbedderConfig(template="prompteol")
    saved = adapter_config(adapter) if adapter else {}
    return EmbedderConfig(model=spec, **{k: v for k, v in saved.items() if k in ("template", "num_layers")})


def is_llm_spec(spec: str) -> bool:
    """Whether a spec is served by the LLM backend (and so takes ``EmbedderConfig`` overrides)."""
    return spec not in ("minilm", "hash") and not spec.startswith("openai:")


def load_encoder(spec: str = "default", **overrides) -> Encoder:
    """Build the encoder a spec names; ``overrides`` set ``EmbedderConfig`` fields of LLM backends
    (``None`` values are ignored) or ``dimensions``/``base_url`` of ``openai:`` ones."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if spec == "minilm":
        from .backends.sentence_transformer import SentenceTransformerEncoder, minilm_path

        return SentenceTransformerEncoder(minilm_path(), name="minilm")
    if spec == "hash":
        from .backends.hashing import HashingEncoder

        return HashingEncoder()
    if spec.startswith("openai:"):
        from .backends.openai_api import OpenAIEncoder

        return OpenAIEncoder(spec.removeprefix("openai:"), **overrides)
    from .backends.llm import LLMEncoder

    config = dataclasses.replace(llm_config(spec, overrides.get("adapter")), **overrides)
    return LLMEncoder(config)
