"""Typed training configuration: frozen dataclasses with defaults that run, read from TOML."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import tomllib

SOURCE_KINDS = ("beir", "jsonl", "sts")
LEAK_POLICIES = ("error", "drop")
C = TypeVar("C")  # a config dataclass
PREFIX_DTYPES = ("float16", "bfloat16", "float32")


@dataclass(frozen=True)
class SourceConfig:
    """One training data source.

    ``kind``: ``beir`` (a BEIR folder's qrels split, BM25-mined hard negatives), ``jsonl``
    (``{query, positive, negative?, instruction?|task?}`` lines, also ``e5 synth export``), or
    ``sts`` (STS-B TSV; pairs scoring at least ``min_score`` become positives).
    ``weight`` multiplies the source's size (0.5 keeps half, 2.0 repeats it twice).
    ``holdout_queries`` of a BEIR source are kept out for dev, chosen by ``holdout_seed`` (not the
    training seed, so a warm start with another seed never trains on the dev queries).
    ``task`` names the instruction (a known task or free text) when rows carry none.
    """

    kind: str
    path: str
    weight: float = 1.0
    task: str | None = None
    split: str = "train"
    max_positives: int = 1
    min_score: float = 4.0
    holdout_queries: int = 0
    holdout_seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"data source kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if self.weight <= 0:
            raise ValueError(f"weight of {self.path} must be positive, got {self.weight}")
        if self.max_positives < 1:
            raise ValueError(f"max_positives must be at least 1, got {self.max_positives}")


@dataclass(frozen=True)
class LeakConfig:
    """Evaluation data that must not enter training: BEIR folders (their ``split`` queries and,
    with ``documents``, judged documents) and STS files (both sentences of every pair).

    BEIR train and test splits share one corpus by design, so ``documents = false`` is the
    usual choice when training on a BEIR train split; queries are always checked.
    """

    beir: tuple[str, ...] = ()
    split: str = "test"
    documents: bool = True
    sts: tuple[str, ...] = ()
    policy: str = "error"

    def __post_init__(self) -> None:
        if self.policy not in LEAK_POLICIES:
            raise ValueError(f"leak policy must be one of {LEAK_POLICIES}, got {self.policy!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Backbone, prompt template, lengths and LoRA settings.

    ``*_max_length`` cut training texts; ``inference_max_length`` goes into the adapter's
    ``embedder.json`` (training on short texts is cheap; encoding may still use longer ones).
    ``init_adapter`` starts from an existing LoRA adapter folder (its rank and targets win over
    the ``lora_*`` settings) instead of a fresh one: a warm start that continues earlier training.
    ``frozen_layers`` > 0 trains only the layers above the first ``frozen_layers`` (a fresh LoRA goes
    only there; an ``init_adapter``'s lower LoRA weights stay fixed); their outputs can be cached
    (``TrainConfig.prefix_cache``). An ``init_adapter`` that leaves out layers above ``frozen_layers``
    is widened: those layers get fresh LoRA of its rank with B = 0 (the model is unchanged until they train).
    ``pooling`` is ``last`` (the EOS token's hidden state, the paper's) or ``mean`` (``embedder.pooling``).
    """

    model: str | None = None
    num_layers: int | None = None
    template: str = "paper"
    query_max_length: int = 512
    doc_max_length: int = 512
    inference_max_length: int = 512
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_targets: tuple[str, ...] | str = "all-linear"
    gradient_checkpointing: bool = True
    init_adapter: str | None = None
    frozen_layers: int = 0
    pooling: str = "last"

    def __post_init__(self) -> None:
        if min(self.query_max_length, self.doc_max_length, self.inference_max_length) < 2:
            raise ValueError("max lengths must be at least 2 (text + EOS)")
        if self.frozen_layers < 0:
            raise ValueError(f"frozen_layers must be non-negative, got {self.frozen_layers}")
        from embedder.pooling import get_pooling

        get_pooling(self.pooling)  # a clear error for an unknown name, before any training
        if self.lora_r < 1 or not 0 <= self.lora_dropout < 1:
            raise ValueError(
                f"need lora_r >= 1 and 0 <= lora_dropout < 1, got {self.lora_r}, {self.lora_dropout}"
            )


@dataclass(frozen=True)
class OptimConfig:
    """Optimisation: paper defaults (lr 1e-4, warmup, linear decay, weight decay 0.1, temperature 0.02).

    ``chunk_size`` > 0 turns on GradCache: the batch is encoded in chunks of that many texts,
    so memory depends on the chunk, not the batch.
    """

    batch_size: int = 32
    max_steps: int = 100
    lr: float = 1e-4
    weight_decay: float = 0.1
    warmup_steps: int = 10
    temperature: float = 0.02
    chunk_size: int = 0
    bucket_batches: int = 16
    task_batches: bool = False  # each batch from one task: harder in-batch negatives
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (in-batch negatives), got {self.batch_size}")
        if self.max_steps < 1 or self.warmup_steps < 0 or self.chunk_size < 0:
            raise ValueError("max_steps must be positive; warmup_steps and chunk_size non-negative")
        if self.temperature <= 0 or self.lr <= 0:
            raise ValueError("temperature and lr must be positive")


@dataclass(frozen=True)
class DistillConfig:
    """Distillation towards a teacher's ranking (RocketQAv2 / TAS-B style): the loss adds
    ``weight`` x KL(teacher || student) over each query's candidates (in-batch and hard negatives),
    teacher scores being cosine / ``temperature``. ``teacher`` is an encoder spec (``minilm``).
    ``drop_false_negatives`` removes a hard negative that the teacher scores above the positive.
    ``lexical_weight`` > 0 fuses the teacher with BM25 as hybrid search does (per query, min-max
    normalised, BM25 weighted ``lexical_weight``; one process only): a better ranker than either alone,
    so a student can learn to beat its dense teacher. Fused scores lie in [0, 1], so ``temperature``
    then applies to that range. ``mixed_precision`` runs the teacher under the step's bf16 autocast (where
    the step has one): 1.6x faster for all-mpnet-base-v2 on an AMX CPU, cosines within 1e-4 of fp32.
    """

    teacher: str | None = None
    weight: float = 1.0
    temperature: float = 0.05
    drop_false_negatives: bool = True
    lexical_weight: float = 0.0
    mixed_precision: bool = False

    def __post_init__(self) -> None:
        if self.weight < 0 or self.temperature <= 0:
            raise ValueError(
                f"distill weight must be >= 0 and temperature > 0, got {self.weight}, {self.temperature}"
            )
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError(f"distill lexical_weight must be in [0, 1], got {self.lexical_weight}")


@dataclass(frozen=True)
class CosentConfig:
    """A graded-pair ranking term (CoSENT) beside InfoNCE: every step also encodes ``batch_size`` pairs of
    an STS Benchmark TSV (``path``, a train split; rows with an evaluation text are dropped as the
    ``leak`` section says), both sentences as queries with the ``task`` instruction (as STS is scored),
    and adds ``weight`` x the CoSENT loss of their cosines against the gold scores. ``path`` unset: off.
    """

    path: str | None = None
    weight: float = 1.0
    batch_size: int = 32
    scale: float = 20.0
    task: str = "sts"

    def __post_init__(self) -> None:
        if self.weight < 0 or self.scale <= 0 or self.batch_size < 2:
            raise ValueError(
                f"cosent weight must be >= 0, scale > 0 and batch_size >= 2, got {self.weight}, "
                f"{self.scale}, {self.batch_size}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; written beside its outputs.

    ``eval_every`` > 0 scores the checkpoint every that many steps on the held-out queries of BEIR
    sources with ``holdout_queries`` (nDCG@10, logged); it costs an encoding pass each time.
    ``prefix_cache`` names a folder for the hidden states of the ``model.frozen_layers`` lower layers,
    reused across steps, epochs and runs (at most ``prefix_cache_gb`` on disk), stored as ``prefix_cache_dtype``
    (fp16 halves the disk; Gemma's residual stream outgrows fp16's range, so its states need float32).
    ``deepspeed`` names a DeepSpeed JSON config (``configs/deepspeed-zero3.json``): model, optimiser and
    schedule then run in a DeepSpeed engine (ZeRO-3 partitions the backbone over the processes).
    """

    output_dir: str = "runs/default"
    data: tuple[SourceConfig, ...] = ()
    leak: LeakConfig = LeakConfig()
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    distill: DistillConfig = DistillConfig()
    cosent: CosentConfig = CosentConfig()
    prefix_cache: str | None = None
    prefix_cache_gb: float = 20.0
    prefix_cache_dtype: str = "float16"
    seed: int = 0
    log_every: int = 1
    save_every: int = 50
    eval_every: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    tensorboard: bool = False
    deepspeed: str | None = None

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("no training data: add at least one [[data]] source")
        if self.save_every < 1 or self.log_every < 1 or self.eval_every < 0:
            raise ValueError("save_every and log_every must be positive, eval_every non-negative")
        if self.deepspeed is not None and not self.deepspeed.endswith(".json"):
            raise ValueError(f"deepspeed must name a DeepSpeed JSON config file, got {self.deepspeed!r}")
        if self.prefix_cache_dtype not in PREFIX_DTYPES:
            raise ValueError(
                f"prefix_cache_dtype must be one of {PREFIX_DTYPES}, got {self.prefix_cache_dtype!r}"
            )
        if self.prefix_cache and not self.model.frozen_layers:
            raise ValueError(
                "prefix_cache needs model.frozen_layers > 0 (the layers whose outputs it caches)"
            )
        if self.deepspeed and (self.model.frozen_layers or self.distill.teacher or self.cosent.path):
            raise ValueError("frozen_layers, distillation and cosent are not supported with deepspeed")
        if self.deepspeed and self.optim.chunk_size == 1:  # processes could then encode unequal chunk counts
            raise ValueError("with deepspeed, chunk_size must be 0 (off) or at least 2")
        if self.deepspeed and self.optim.task_batches and self.optim.chunk_size:
            # task batches differ in size, and a short one would make fewer chunks than a long one elsewhere
            raise ValueError("with deepspeed, task_batches needs chunk_size 0 (GradCache off)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def from_dict(raw: dict) -> TrainConfig:
    """Build a config from nested plain data (as read from TOML or JSON), rejecting unknown keys."""
    raw = dict(raw)
    sections = {
        "leak": LeakConfig,
        "model": ModelConfig,
        "optim": OptimConfig,
        "distill": DistillConfig,
        "cosent": CosentConfig,
    }
    for key, cls in sections.items():
        if key in raw:
            raw[key] = _build(cls, raw[key])
    raw["data"] = tuple(_build(SourceConfig, source) for source in raw.get("data", ()))
    return _build(TrainConfig, raw)


def _build(cls: type[C], values: dict) -> C:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; valid: {sorted(names)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a TOML config; ``overrides`` maps dotted keys (``optim.lr``) to values.

    A config may name another as ``base`` (a path relative to its own folder): it starts from that
    config's values and its own tables override them key by key; a list (``[[data]]``) replaces the
    base's list whole.
    """
    raw = read_layered_toml(Path(path))
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return from_dict(raw)


def read_layered_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The TOML at ``path`` laid over the chain of configs its ``base`` keys name."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ValueError(f"config bases form a cycle: {chain}")
    if not path.is_file():
        named_by = f" (the base of {seen[-1]})" if seen else ""
        raise FileNotFoundError(f"no config file {path}{named_by}")
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    base = raw.pop("base", None)
    if base is None:
        return raw
    return merge_tables(read_layered_toml(path.parent / base, (*seen, path)), raw)


def merge_tables(base: dict, override: dict) -> dict:
    """``override`` laid over ``base``: tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged
