"""One contrastive step's forward and backward, plain or with GradCache (Gao et al. 2021).

GradCache encodes the batch without a graph, takes the loss and its gradient with respect to
the embeddings, then re-encodes chunk by chunk with a graph and back-propagates those cached
gradients: the same parameter gradients as the plain loss, with memory bounded by the chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from .collate import Batch
from .distributed import gather_with_grad
from .loss import info_nce
from .model import encode

Inputs = dict[str, torch.Tensor]


def contrastive_loss(queries: torch.Tensor, documents: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE over the embeddings of all processes: positives of every process first, then negatives."""
    n = queries.shape[0]
    all_docs = torch.cat([gather_with_grad(documents[:n]), gather_with_grad(documents[n:])])
    return info_nce(gather_with_grad(queries), all_docs, temperature)


def rng_state() -> tuple:
    """CPU and (if present) CUDA random states, to replay dropout masks exactly."""
    return torch.random.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None


def set_rng_state(state: tuple) -> None:
    torch.random.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


def chunks(inputs: Inputs, size: int) -> list[Inputs]:
    """Row chunks of a right-padded batch, each cut to its own longest row."""
    out = []
    for start in range(0, inputs["input_ids"].shape[0], size):
        part = {k: v[start : start + size] for k, v in inputs.items()}
        width = int(part["attention_mask"].sum(dim=1).max())
        out.append({k: v[:, :width] for k, v in part.items()})
    return out


def backward_plain(model, batch: Batch, temperature: float,
                   autocast: Callable[[], contextlib.AbstractContextManager]) -> float:
    """Encode everything with a graph, back-propagate the loss; returns the loss."""
    with autocast():
        loss = contrastive_loss(encode(model, batch.queries), encode(model, batch.documents), temperature)
    loss.backward()
    return float(loss.detach())


def backward_grad_cache(model, batch: Batch, temperature: float, chunk_size: int,
                        autocast: Callable[[], contextlib.AbstractContextManager]) -> float:
    """GradCache: the plain step's gradients in chunk-sized memory; returns the loss."""
    parts = chunks(batch.queries, chunk_size) + chunks(batch.documents, chunk_size)
    n_query_chunks = len(chunks(batch.queries, chunk_size))
    states, reps = [], []
    with torch.no_grad(), autocast():
        for part in parts:
            states.append(rng_state())  # replayed below: same dropout masks
            reps.append(encode(model, part).float())
    queries = torch.cat(reps[:n_query_chunks]).requires_grad_()
    documents = torch.cat(reps[n_query_chunks:]).requires_grad_()
    loss = contrastive_loss(queries, documents, temperature)
    loss.backward()
    cached = list(queries.grad.split([len(r) for r in reps[:n_query_chunks]]))
    cached += list(documents.grad.split([len(r) for r in reps[n_query_chunks:]]))
    rng_after = rng_state()
    for part, state, grad in zip(parts, states, cached):
        set_rng_state(state)
        with autocast():
            rep = encode(model, part).float()
        rep.backward(grad)
    set_rng_state(rng_after)
    return float(loss.detach())
