"""Model specs, the same everywhere (CLI, UI, server, benchmarks): one table of spec -> description and
constructor.

``default``          the project's embedder: the adapter committed under ``embedder/adapters/default`` on
                     the base its ``embedder.json`` names (Gemma-3-270M); bare SmolLM2, PromptEOL, if absent
``base``             SmolLM2-135M-Instruct zero-shot with the paper's recipe
``base-prompteol``   SmolLM2-135M-Instruct zero-shot with the PromptEOL template
``gemma``            Gemma-3-270M zero-shot (the packaged GGUF base ``gemma3-270m``), PromptEOL template
``minilm``           all-MiniLM-L6-v2 (sentence-transformers baseline)
``mpnet``            all-mpnet-base-v2 (sentence-transformers; optional install, a distillation teacher)
``hash``             feature-hashing bag of words (instant, lexical; tests and demos)
``bm25``             BM25 retriever (benchmarks only: it ranks a dataset, it does not embed)
``openai:<model>``   OpenAI or any OpenAI-compatible endpoint (``OPENAI_BASE_URL``)
``hybrid:<spec>``    BM25 fused with that encoder (benchmarks only)
``ensemble:<a>+<b>`` the mean of those encoders' cosines (e.g. a teacher: ``ensemble:minilm+mpnet``)
anything else        a Hugging Face causal LM id or local folder

``load_encoder`` builds the encoders; ``load_model`` builds anything the benchmarks rank with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import EmbedderConfig
from .loading import adapter_config
from .protocol import Encoder

if TYPE_CHECKING:
    from .evaluation.retrieval import Retriever

DEFAULT_ADAPTER = Path(__file__).with_name("adapters") / "default"


def default_config() -> EmbedderConfig:
    if (DEFAULT_ADAPTER / "adapter_config.json").is_file():
        saved = adapter_config(DEFAULT_ADAPTER)
        fields = {f.name for f in dataclasses.fields(EmbedderConfig)} - {
            "adapter",
            "device",
            "dtype",
            "threads",
        }
        return EmbedderConfig(adapter=str(DEFAULT_ADAPTER), **{k: v for k, v in saved.items() if k in fields})
    return EmbedderConfig(template="prompteol")


BASE_SPECS: dict[str, EmbedderConfig] = {
    "base": EmbedderConfig(template="paper"),
    "base-prompteol": EmbedderConfig(template="prompteol"),
    "gemma": EmbedderConfig(model="gemma3-270m", template="prompteol"),
}


def llm_config(spec: str, adapter: str | None = None) -> EmbedderConfig:
    """The LLM embedder settings a spec stands for (before per-call overrides); an adapter's saved
    template, depth and pooling win, and an adapter trained on another base than a named spec's is refused."""
    if spec == "default":
        return default_config()
    saved = adapter_config(adapter) if adapter else {}
    tied = {k: v for k, v in saved.items() if k in ("template", "num_layers", "pooling")}
    if spec not in BASE_SPECS:
        return EmbedderConfig(model=spec, **tied)
    config = BASE_SPECS[spec]
    if "model" in saved and saved["model"] != config.model:
        trained_on, named = saved["model"] or "SmolLM2-135M-Instruct", config.model or "SmolLM2-135M-Instruct"
        raise ValueError(
            f"adapter {adapter!r} was trained on base {trained_on!r}, not on {spec!r}'s {named!r}"
        )
    return dataclasses.replace(config, **tied)


LLM_OPTIONS = "llm"  # ``EmbedderConfig`` fields (adapter, device, max_length, ...)
API_OPTIONS = "api"  # ``dimensions``, ``base_url``, ``api_key``


@dataclass(frozen=True)
class ModelSpec:
    """One row of the registry: what a spec is, how to build it, which overrides its backend takes."""

    description: str
    build: Callable[[str, dict], Any]  # (spec as given, overrides) -> Encoder or Retriever
    options: str | None = None  # LLM_OPTIONS, API_OPTIONS or None (takes none)
    encoder: bool = True  # False: a retriever for the benchmarks, not an embedder


def _llm(spec: str, overrides: dict) -> Encoder:
    from .backends.llm import LLMEncoder

    return LLMEncoder(dataclasses.replace(llm_config(spec, overrides.get("adapter")), **overrides))


def _minilm(spec: str, overrides: dict) -> Encoder:
    from .backends.sentence_transformer import SentenceTransformerEncoder, minilm_path

    return SentenceTransformerEncoder(minilm_path(), name="minilm")


def _mpnet(spec: str, overrides: dict) -> Encoder:
    from .backends.sentence_transformer import SentenceTransformerEncoder, mpnet_path

    return SentenceTransformerEncoder(mpnet_path(), name="mpnet")


def _ensemble(spec: str, overrides: dict) -> Encoder:
    from .backends.ensemble import SEPARATOR, EnsembleEncoder

    members = spec.removeprefix(ENSEMBLE_PREFIX).split(SEPARATOR)
    if any(not member for member in members):
        raise ValueError(f"model spec {spec!r} has an empty member; write e.g. 'ensemble:minilm+mpnet'")
    return EnsembleEncoder([load_encoder(member) for member in members])


def _hash(spec: str, overrides: dict) -> Encoder:
    from .backends.hashing import HashingEncoder

    return HashingEncoder()


def _openai(spec: str, overrides: dict) -> Encoder:
    from .backends.openai_api import OpenAIEncoder

    return OpenAIEncoder(spec.removeprefix(OPENAI_PREFIX), **overrides)


def _bm25(spec: str, overrides: dict):
    from .evaluation.bm25 import BM25Retriever

    return BM25Retriever()


def _hybrid(spec: str, overrides: dict):
    from .evaluation.hybrid import HybridRetriever
    from .evaluation.retrieval import DenseRetriever
    from .fusion import fusion_for

    encoder = load_encoder(spec.removeprefix(HYBRID_PREFIX), **overrides)
    return HybridRetriever(DenseRetriever(encoder), fusion=fusion_for(encoder))


OPENAI_PREFIX, HYBRID_PREFIX, ENSEMBLE_PREFIX = "openai:", "hybrid:", "ensemble:"
ANY_LLM = "<hf-id or folder>"

REGISTRY: dict[str, ModelSpec] = {
    "default": ModelSpec(
        "the project's embedder: Gemma-3-270M + the trained LoRA adapter", _llm, LLM_OPTIONS
    ),
    "base": ModelSpec(
        "SmolLM2-135M-Instruct zero-shot, paper recipe (instruction + EOS, last token)", _llm, LLM_OPTIONS
    ),
    "base-prompteol": ModelSpec("SmolLM2-135M-Instruct zero-shot, PromptEOL template", _llm, LLM_OPTIONS),
    "gemma": ModelSpec("Gemma-3-270M zero-shot (18 layers, 640-d), PromptEOL template", _llm, LLM_OPTIONS),
    "minilm": ModelSpec("all-MiniLM-L6-v2 (sentence-transformers baseline, 384-d)", _minilm),
    "mpnet": ModelSpec(
        "all-mpnet-base-v2 (sentence-transformers, 768-d; optional install, a distillation teacher)", _mpnet
    ),
    "hash": ModelSpec("feature-hashing bag of words (lexical, no model; for tests and demos)", _hash),
    "bm25": ModelSpec(
        "BM25 (bm25s, Lucene scoring; a retriever for the benchmarks, not an embedder)", _bm25, encoder=False
    ),
    f"{OPENAI_PREFIX}<model>": ModelSpec(
        "OpenAI embeddings or any OpenAI-compatible endpoint (OPENAI_BASE_URL)", _openai, API_OPTIONS
    ),
    f"{HYBRID_PREFIX}<spec>": ModelSpec(
        "BM25 fused with that encoder (benchmarks; e.g. hybrid:minilm)", _hybrid, encoder=False
    ),
    f"{ENSEMBLE_PREFIX}<spec>+<spec>": ModelSpec(
        "the mean of several encoders' cosines (e.g. a distillation teacher: ensemble:minilm+mpnet)",
        _ensemble,
    ),
    ANY_LLM: ModelSpec(
        "any Hugging Face causal LM, e.g. intfloat/e5-mistral-7b-instruct on a GPU", _llm, LLM_OPTIONS
    ),
}
MODELS: dict[str, str] = {spec: entry.description for spec, entry in REGISTRY.items()}


def lookup(spec: str) -> ModelSpec:
    """The registry row a spec falls under: its own, its prefix's (``openai:``, ``hybrid:``), else any LLM."""
    if spec in REGISTRY:
        return REGISTRY[spec]
    for prefix in (OPENAI_PREFIX, HYBRID_PREFIX, ENSEMBLE_PREFIX):
        if spec.startswith(prefix):
            if not spec.removeprefix(prefix):
                raise ValueError(f"model spec {spec!r} names nothing after {prefix!r}")
            return REGISTRY[next(key for key in REGISTRY if key.startswith(prefix))]
    return REGISTRY[ANY_LLM]


def is_llm_spec(spec: str) -> bool:
    """Whether a spec is served by the LLM backend (and so takes ``EmbedderConfig`` overrides)."""
    return lookup(spec).options == LLM_OPTIONS


def load_encoder(spec: str = "default", **overrides) -> Encoder:
    """Build the encoder a spec names; ``overrides`` set ``EmbedderConfig`` fields of LLM backends
    (``None`` values are ignored) or ``dimensions``/``base_url`` of ``openai:`` ones."""
    entry = lookup(spec)
    if not entry.encoder:
        raise ValueError(
            f"{spec!r} ranks datasets in the benchmarks but does not embed text; "
            "choose an encoder (see `e5 models`)"
        )
    return entry.build(spec, {k: v for k, v in overrides.items() if v is not None})


def load_model(spec: str, max_length: int | None = None, **overrides: Any) -> Encoder | Retriever:
    """Anything the benchmarks rank with: an encoder, the BM25 retriever, or ``hybrid:<spec>`` (BM25 fused
    with that encoder by the default ``FusionConfig``); ``max_length`` applies to LLMs."""
    if max_length and is_llm_spec(spec.removeprefix(HYBRID_PREFIX)):
        overrides["max_length"] = max_length
    return lookup(spec).build(spec, {k: v for k, v in overrides.items() if v is not None})
