"""One optimisation step: the contrastive forward and backward, plain or with GradCache (Gao et al.
2021), and the ``StepRunner`` that updates, checkpoints and exports around it.

GradCache encodes the batch chunk by chunk without a graph (but for the smallest chunk), takes the
loss and its gradient with respect to the embeddings, back-propagates the smallest chunk's share,
then re-encodes the other chunks with a graph and back-propagates their cached gradients: the same
parameter gradients as the plain loss, with memory bounded by the chunk.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from embedder.loading import cpu_has_fast_bf16

from .checkpoint import load_checkpoint, save_checkpoint
from .collate import Batch, ScoredPairs, Teacher
from .config import CosentConfig, TrainConfig
from .distributed import gather_with_grad, max_over_processes, sum_gradients, world
from .export import TrainResult, export_adapter
from .loss import cosent, fused_teacher_scores, info_nce, info_nce_distilled
from .model import encode

Inputs = dict[str, torch.Tensor]
Backward = Callable[[torch.Tensor], None]  # back-propagates a scalar (a DeepSpeed engine's own, or plain)


def contrastive_loss(
    queries: torch.Tensor, documents: torch.Tensor, temperature: float, teacher: Teacher | None = None
) -> torch.Tensor:
    """InfoNCE over the embeddings of all processes: positives of every process first, then negatives;
    with ``teacher`` (its embeddings of the same texts), plus the distillation term."""
    all_docs = gather_documents(documents, queries.shape[0])
    all_queries = gather_with_grad(queries)
    if teacher is None:
        return info_nce(all_queries, all_docs, temperature)
    return info_nce_distilled(
        all_queries, all_docs, temperature, teacher_scores(teacher), teacher.weight, teacher.temperature
    )


def gather_documents(documents: torch.Tensor, positives: int) -> torch.Tensor:
    """Every process's documents in the loss's order: all positives (the first ``positives`` rows of each
    process) first, then all hard negatives."""
    return torch.cat([gather_with_grad(documents[:positives]), gather_with_grad(documents[positives:])])


def teacher_scores(teacher: Teacher) -> torch.Tensor:
    """The teacher's scores of every process's queries against every process's documents (the student's
    order): cosine of its embeddings, fused with its BM25 scores when it has them (one process only)."""
    documents = gather_documents(teacher.documents, teacher.queries.shape[0])
    queries = gather_with_grad(teacher.queries)
    dense = F.normalize(queries, dim=-1) @ F.normalize(documents, dim=-1).T
    if teacher.lexical is None:
        return dense
    if world()[1] > 1:
        raise ValueError("a fused teacher (distill.lexical_weight > 0) runs in one process only")
    return fused_teacher_scores(dense, teacher.lexical, teacher.lexical_weight)


def rng_state() -> tuple:
    """CPU and (if present) CUDA random states, to replay dropout masks exactly."""
    return torch.random.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None


def set_rng_state(state: tuple) -> None:
    torch.random.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


def chunks(inputs: Inputs, size: int) -> list[Inputs]:
    """Row chunks (at most ``size`` rows, near-equal) of a right-padded batch, each cut to its own longest
    row; as many on every process as the process that needs most (when each has that many rows), since
    a DeepSpeed engine's forwards and backwards are collectives.
    """
    rows = inputs["input_ids"].shape[0]
    count = min(max_over_processes(-(-rows // size)), rows)
    bounds = [i * rows // count for i in range(count + 1)]
    out = []
    for start, end in itertools.pairwise(bounds):
        part = {k: v[start:end] for k, v in inputs.items()}
        width = int(part["attention_mask"].sum(dim=1).max())
        out.append({k: v[:, :width] for k, v in part.items()})
    return out


def backward_plain(
    model: torch.nn.Module,
    batch: Batch,
    temperature: float,
    autocast: Callable[[], contextlib.AbstractContextManager],
    backward: Backward = torch.Tensor.backward,
    pooling: str = "last",
) -> float:
    """Encode everything with a graph, back-propagate the loss; returns the loss."""
    with autocast():
        queries, documents = encode(model, batch.queries, pooling), encode(model, batch.documents, pooling)
    loss = contrastive_loss(queries.float(), documents.float(), temperature, batch.teacher)
    backward(loss)
    return float(loss.detach())


def backward_grad_cache(
    model: torch.nn.Module,
    batch: Batch,
    temperature: float,
    chunk_size: int,
    autocast: Callable[[], contextlib.AbstractContextManager],
    backward: Backward = torch.Tensor.backward,
    pooling: str = "last",
) -> float:
    """GradCache: the plain step's gradients in chunk-sized memory; returns the loss.

    Chunks are encoded largest first; the smallest, encoded last, keeps its graph from the first
    pass and is back-propagated straight away, so it is not encoded twice (at batch 32 in chunks
    of 32: 3 forwards, not 4) and its graph is never alive beside a larger chunk's. Only the
    embeddings' gradients are kept through the second pass, not the embeddings. A chunk's cached
    gradient ``g`` reaches the parameters as the backward of ``sum(embedding * g)``, a scalar.
    """
    query_parts, doc_parts = chunks(batch.queries, chunk_size), chunks(batch.documents, chunk_size)
    parts = query_parts + doc_parts
    order = sorted(range(len(parts)), key=lambda i: parts[i]["input_ids"].numel(), reverse=True)
    kept = order[-1]
    states, reps = [None] * len(parts), [None] * len(parts)
    with autocast():
        for i in order:
            states[i] = rng_state()  # replayed below: same dropout masks
            with torch.set_grad_enabled(i == kept):
                reps[i] = encode(model, parts[i], pooling).float()
    loss, grads = embedding_gradients(reps, len(query_parts), temperature, batch.teacher)
    backward(torch.sum(reps[kept] * grads[kept]))
    del reps  # only the gradients are needed from here on
    rng_after = rng_state()
    for i in order[:-1]:
        set_rng_state(states[i])
        with autocast():
            rep = encode(model, parts[i], pooling).float()
        backward(torch.sum(rep * grads[i]))
    set_rng_state(rng_after)
    return loss


def backward_cosent(
    model: torch.nn.Module,
    pairs: ScoredPairs,
    settings: CosentConfig,
    autocast: Callable[[], contextlib.AbstractContextManager],
    backward: Backward = torch.Tensor.backward,
    pooling: str = "last",
) -> float:
    """Encode both sides of the graded pairs with a graph, back-propagate ``settings.weight`` x CoSENT
    (gradients add to the contrastive step's); returns the weighted CoSENT loss."""
    with autocast():
        first, second = encode(model, pairs.first, pooling), encode(model, pairs.second, pooling)
    loss = settings.weight * cosent(first.float(), second.float(), pairs.gold, settings.scale)
    backward(loss)
    return float(loss.detach())


def embedding_gradients(
    reps: list[torch.Tensor], n_query_chunks: int, temperature: float, teacher: Teacher | None = None
) -> tuple[float, list[torch.Tensor]]:
    """The loss over chunk embeddings (query chunks first) and its gradient with respect to each chunk."""
    leaves = [rep.detach().requires_grad_() for rep in reps]
    loss = contrastive_loss(
        torch.cat(leaves[:n_query_chunks]), torch.cat(leaves[n_query_chunks:]), temperature, teacher
    )
    loss.backward()
    return float(loss.detach()), [leaf.grad for leaf in leaves]


def uses_bf16(device: torch.device, enabled: bool, fast_bf16: bool | None = None) -> bool:
    """Whether mixed precision runs bf16 here: on GPUs, and on CPUs with native bf16 matrix products
    (``fast_bf16``, detected when None); other CPUs stay fp32, where bf16 is slower."""
    if not enabled:
        return False
    native = cpu_has_fast_bf16() if fast_bf16 is None else fast_bf16
    return device.type == "cuda" or (device.type == "cpu" and native)


def autocast_for(
    device: torch.device, enabled: bool, fast_bf16: bool | None = None
) -> Callable[[], contextlib.AbstractContextManager]:
    """bf16 autocast where :func:`uses_bf16`; the loss itself is always computed in fp32."""
    if uses_bf16(device, enabled, fast_bf16):
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def make_optimizer(
    params: list[torch.nn.Parameter], config: TrainConfig
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with linear warmup then linear decay to zero at ``max_steps``."""
    from transformers import get_linear_schedule_with_warmup

    optimizer = torch.optim.AdamW(params, lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, config.optim.warmup_steps, config.optim.max_steps)
    return optimizer, scheduler


class StepRunner:
    """One optimisation step (seeded dropout, plain or GradCache backward, gradient sum, clip, update),
    checkpoints and export; every process calls each method (``trainer.zero`` subclasses it)."""

    def __init__(
        self,
        model: torch.nn.Module,
        params: list[torch.nn.Parameter],
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        config: TrainConfig,
        device: torch.device,
        encoder: torch.nn.Module | None = None,
    ):
        self.model, self.params, self.optimizer, self.scheduler = model, params, optimizer, scheduler
        self.encoder = (
            model if encoder is None else encoder
        )  # what the step runs: the model or its PrefixModel
        self.config = config
        self.autocast = autocast_for(device, config.mixed_precision)

    def run(self, step: int, batch: Batch, pairs: ScoredPairs | None = None) -> tuple[float, float]:
        """Returns ``(loss, seconds)``; dropout is seeded by the step so a resumed run is identical. With
        ``pairs``, the weighted CoSENT loss of :attr:`TrainConfig.cosent` is added (to the loss too)."""
        started = time.time()
        torch.manual_seed(self.config.seed * 1_000_003 + step)
        optim, pooling = self.config.optim, self.config.model.pooling
        if optim.chunk_size:
            loss = backward_grad_cache(
                self.encoder,
                batch,
                optim.temperature,
                optim.chunk_size,
                self.autocast,
                self.backward,
                pooling,
            )
        else:
            loss = backward_plain(
                self.encoder, batch, optim.temperature, self.autocast, self.backward, pooling
            )
        if pairs is not None:
            loss += backward_cosent(
                self.encoder, pairs, self.config.cosent, self.autocast, self.backward, pooling
            )
        self.update()
        return loss, time.time() - started

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def update(self) -> None:
        """Sum gradients over processes, clip, step optimiser and schedule, clear gradients."""
        sum_gradients(self.params)
        if self.config.optim.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.params, self.config.optim.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def save(self, folder: Path, step: int, wall_seconds: float) -> None:
        if world()[0] == 0:
            save_checkpoint(folder, self.model, self.optimizer, self.scheduler, step, wall_seconds)

    def load(self, folder: Path) -> tuple[int, float]:
        return load_checkpoint(folder, self.model, self.optimizer, self.scheduler)

    def export(self, config: TrainConfig, result: TrainResult) -> None:
        if world()[0] == 0:
            export_adapter(self.model, config, result)
