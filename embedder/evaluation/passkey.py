"""Personalized passkey retrieval (Wang et al. 2024, section 5.3; after Mohtashami & Jaggi 2023).

Each of ``candidates`` documents is repetitive filler text of a target token length with one
person's name and a random five-digit pass key inserted at a random sentence boundary; the query
asks for one person's pass key; the score is top-1 accuracy over all persons. Long documents only
stay informative if the model sees the whole text, so lengths beyond the model's context are
encoded truncated and reported as such.

    >>> task = make_task(256, count_words, candidates=100, seed=0)
    >>> task.queries[0], task.documents[0][:60]
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from .results import Result
from .retrieval import Progress

if TYPE_CHECKING:
    from rich.table import Table

    from ..protocol import Encoder

FILLER = (
    "The grass is green.",
    "The sky is blue.",
    "The sun is yellow.",
    "Here we go.",
    "There and back again.",
)
FIRST = (
    "Ada",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Samir",
    "Tilda",
    "Umar",
    "Vera",
    "Wanda",
    "Xavier",
    "Yara",
    "Zoltan",
)
LAST = (
    "Abara",
    "Berg",
    "Castro",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Gallo",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhou",
)
INSTRUCTION = "Given a question about a person's pass key, retrieve the document that contains it"
LENGTHS = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
TEMPLATE_MARGIN = 32  # room for a prompt template around the document and the EOS token

TokenCounter = Callable[[list[str]], list[int]]


def parse_lengths(text: str) -> list[int]:
    """``"256,512,1k,32k"`` -> ``[256, 512, 1024, 32768]``."""
    try:
        return [
            int(part[:-1]) * 1024 if part.lower().endswith("k") else int(part)
            for part in text.replace(" ", "").split(",")
            if part
        ]
    except ValueError:
        raise ValueError(f"lengths must be comma-separated integers like 256,512,1k; got {text!r}") from None


def count_words(texts: list[str]) -> list[int]:
    """Whitespace words: the fallback length measure for encoders that expose no tokenizer."""
    return [len(text.split()) for text in texts]


def token_counter(encoder: Encoder) -> TokenCounter:
    """The encoder's own token count (LLM backends), its model's tokenizer (sentence-transformers),
    else words."""
    if hasattr(encoder, "count_tokens"):
        return encoder.count_tokens
    tokenizer = getattr(getattr(encoder, "model", None), "tokenizer", None)
    if tokenizer is None:
        return count_words
    return lambda texts: [len(ids) for ids in tokenizer(list(texts), verbose=False)["input_ids"]]


@dataclass(frozen=True)
class PasskeyTask:
    """``queries[i]`` asks for the pass key hidden in ``documents[i]``; ``tokens[i]`` is its length."""

    length: int
    documents: list[str]
    queries: list[str]
    names: list[str]
    passkeys: list[str]
    tokens: list[int]


def key_sentence(name: str, passkey: str) -> str:
    return f"{name}'s pass key is {passkey}. Remember it. {passkey} is the pass key of {name}."


def filler_sentences(count: int) -> list[str]:
    return [FILLER[i % len(FILLER)] for i in range(count)]


def fit_filler(target: int, key_tokens: int, cumulative: list[int]) -> int:
    """The most filler sentences that, with the key sentence, stay within ``target`` tokens."""
    return max(0, bisect.bisect_right(cumulative, target - key_tokens) - 1)


def make_task(
    length: int, count_tokens: TokenCounter = count_words, candidates: int = 100, seed: int = 0
) -> PasskeyTask:
    """A seeded task whose documents are about ``length`` tokens long (as ``count_tokens`` counts)."""
    if length < 32:
        raise ValueError(f"passkey length must be at least 32 tokens, got {length}")
    if not 2 <= candidates <= len(FIRST) * len(LAST):
        raise ValueError(f"candidates must be between 2 and {len(FIRST) * len(LAST)}, got {candidates}")
    rng = random.Random(f"{seed}-{length}")
    names = [
        f"{first} {last}" for first, last in rng.sample([(f, s) for f in FIRST for s in LAST], candidates)
    ]
    passkeys = [str(rng.randint(10_000, 99_999)) for _ in names]
    keys = [key_sentence(name, key) for name, key in zip(names, passkeys, strict=True)]
    # Sentences are joined by spaces, so counts add up (up to a token at the seams; measured below);
    # the per-text overhead (BOS/EOS) is counted once, with the key sentence.
    overhead = count_tokens([""])[0]
    per_sentence = [n - overhead for n in count_tokens([f" {s}" for s in FILLER])]
    cumulative = list(np.cumsum([0] + [per_sentence[i % len(FILLER)] for i in range(2 * length)]))
    documents = []
    for key, key_tokens in zip(keys, count_tokens(keys), strict=True):
        filler = filler_sentences(fit_filler(length, key_tokens, cumulative))
        at = rng.randint(0, len(filler))
        documents.append(" ".join(filler[:at] + [key] + filler[at:]))
    queries = [f"What is {name}'s pass key?" for name in names]
    return PasskeyTask(length, documents, queries, names, passkeys, count_tokens(documents))


def context_limit(encoder: Encoder) -> int | None:
    """The longest input the model was built for: positions of an LLM, ``max_seq_length`` of a
    sentence-transformer; ``None`` when unknown (API models)."""
    model = getattr(encoder, "model", None)
    if getattr(model, "max_seq_length", None):
        return model.max_seq_length
    return getattr(getattr(model, "config", None), "max_position_embeddings", None)


@contextmanager
def max_length_for(encoder: Encoder, tokens: int) -> Iterator[None]:
    """Let an LLM encoder take ``tokens`` (plus template room) for the duration, within its context."""
    config = getattr(encoder, "config", None)
    if config is None or not hasattr(config, "max_length"):
        yield
        return
    limit = context_limit(encoder) or tokens + TEMPLATE_MARGIN
    encoder.config = replace(config, max_length=min(tokens + TEMPLATE_MARGIN, limit))
    try:
        yield
    finally:
        encoder.config = config


def encode_documents(
    encoder: Encoder, task: PasskeyTask, batch: int, progress: Progress | None
) -> tuple[np.ndarray, int]:
    """Document vectors and how many documents were truncated (as the encoder reports, or by count)."""
    chunks, truncated = [], 0
    limit = context_limit(encoder)
    with tqdm(total=len(task.documents), desc=f"passkey {task.length}", unit="doc", leave=False) as bar:
        for start in range(0, len(task.documents), batch):
            chunks.append(encoder.encode_documents(task.documents[start : start + batch]))
            if hasattr(encoder, "last_truncated"):  # LLM backends count what they cut
                truncated += encoder.last_truncated
            elif limit is not None:
                truncated += sum(n > limit for n in task.tokens[start : start + batch])
            bar.update(len(chunks[-1]))
            if progress:
                progress(f"passkey {task.length}", bar.n, len(task.documents))
    return np.concatenate(chunks), truncated


def top1_accuracy(
    encoder: Encoder, task: PasskeyTask, batch: int = 10, progress: Progress | None = None
) -> tuple[float, int]:
    """Share of queries whose best-scoring document holds their person's pass key, and the number
    of documents the encoder had to truncate."""
    documents, truncated = encode_documents(encoder, task, batch, progress)
    queries = encoder.encode_queries(task.queries, INSTRUCTION)
    best = (queries @ documents.T).argmax(axis=1)
    return float(np.mean(best == np.arange(len(task.queries)))), truncated


def run_passkey(
    encoder: Encoder,
    lengths: Sequence[int] = LENGTHS[:2],
    candidates: int = 100,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[Result]:
    """Top-1 accuracy per length; lengths beyond the model's context are run truncated and say so."""
    if not lengths:
        raise ValueError("no passkey lengths given")
    count = token_counter(encoder)
    knobs = long_context_settings(encoder)
    results = []
    for length in lengths:
        task = make_task(length, count, candidates, seed)
        started = time.perf_counter()
        with max_length_for(encoder, max(task.tokens)):
            accuracy, truncated = top1_accuracy(encoder, task, progress=progress)
        config = {
            "length": length,
            "truncated_to": context_limit(encoder) if truncated else None,
            "truncated_docs": truncated,
            "candidates": candidates,
            "seed": seed,
            "mean_tokens": round(float(np.mean(task.tokens)), 1),
            **knobs,
        }
        results.append(
            Result(
                kind="passkey",
                model=encoder.name,
                dataset=f"passkey-{length}",
                split="synthetic",
                metrics={"accuracy": accuracy},
                config=config,
                wall_s=round(time.perf_counter() - started, 2),
            )
        )
    return results


GLOBAL_LAYERS = "full_attention"  # Gemma 3 keeps RoPE settings per layer type; the global layers see far


def global_rope(config: object) -> dict:
    """The RoPE parameters of the layers that attend over the whole text: the only ones, or (Gemma 3, whose
    sliding-window layers have their own) those of the ``full_attention`` layers."""
    rope = getattr(config, "rope_parameters", None) or {}
    per_type = rope.get(GLOBAL_LAYERS)
    return per_type if isinstance(per_type, dict) else rope


def long_context_settings(encoder: Encoder) -> dict:
    """RoPE base (of the global layers) and sliding window of an LLM encoder's backbone, for the record."""
    config = getattr(getattr(encoder, "model", None), "config", None)
    return {
        "rope_theta": global_rope(config).get("rope_theta"),
        "sliding_window": getattr(config, "sliding_window", None),
    }


def apply_long_context(
    encoder: Encoder, rope_theta: float | None = None, sliding_window: int | None = None
) -> None:
    """Change the RoPE base (rebuilding the rotary tables) and/or the attention sliding window of an LLM
    encoder in place, where the architecture has them (the paper's long-context experiments)."""
    if rope_theta is None and sliding_window is None:
        return
    model = getattr(encoder, "model", None)
    config = getattr(model, "config", None)
    if config is None:
        raise ValueError(f"{encoder.name} is no local LLM; rope_theta/sliding_window do not apply")
    if rope_theta is not None:
        rotary = getattr(model, "rotary_emb", None)
        if rotary is None or getattr(config, "rope_parameters", None) is None:
            raise ValueError(f"{config.model_type} models have no rotary position embedding to rebase")
        rebased = {**global_rope(config), "rope_theta": float(rope_theta)}
        per_type = isinstance(config.rope_parameters.get(GLOBAL_LAYERS), dict)
        config.rope_parameters = {
            **config.rope_parameters,
            **({GLOBAL_LAYERS: rebased} if per_type else rebased),
        }
        model.rotary_emb = type(rotary)(config=config).to(rotary.inv_freq.device)
    if sliding_window is not None:
        if not hasattr(config, "sliding_window"):
            raise ValueError(f"{config.model_type} models have no sliding-window attention")
        config.sliding_window = sliding_window


def passkey_table(results: list[Result]) -> Table:
    """A rich table: model, length, top-1 accuracy, measured tokens, truncation."""
    from rich.table import Table

    table = Table(title="personalized passkey retrieval (top-1 of the candidates)")
    for column in ("model", "length", "accuracy", "mean tokens", "truncated to", "wall s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in results:
        cut = r.config.get("truncated_to")
        table.add_row(
            r.model,
            str(r.config["length"]),
            f"{r.metrics['accuracy']:.2f}",
            str(r.config["mean_tokens"]),
            str(cut) if cut else "-",
            f"{r.wall_s:.1f}",
        )
    return table


def plot_passkey(results: list[Result], path: Path) -> Path:
    """Accuracy against length (log scale), one line per model; truncated lengths drawn hollow."""
    from .report import new_figure, save_figure

    figure, axes = new_figure((6, 3.5))
    for model in dict.fromkeys(r.model for r in results):
        rows = sorted((r for r in results if r.model == model), key=lambda r: r.config["length"])
        (line,) = axes.plot(
            [r.config["length"] for r in rows], [r.metrics["accuracy"] for r in rows], "-", label=model
        )
        for r in rows:
            hollow = r.config.get("truncated_to") is not None
            axes.plot(
                r.config["length"],
                r.metrics["accuracy"],
                "o",
                color=line.get_color(),
                markerfacecolor="white" if hollow else line.get_color(),
            )
    axes.set_xscale("log", base=2)
    lengths = sorted({r.config["length"] for r in results})
    axes.set_xticks(lengths, [str(n) for n in lengths])
    axes.set(xlabel="document length (tokens); hollow = truncated", ylabel="top-1 accuracy", ylim=(0, 1.05))
    return save_figure(figure, path)
