"""One contrastive step's forward and backward, plain or with GradCache (Gao et al. 2021).

GradCache encodes the batch chunk by chunk without a graph (the last chunk with one), takes the
loss and its gradient with respect to the embeddings, back-propagates the last chunk's share, then
re-encodes the other chunks with a graph and back-propagates their cached gradients: the same
parameter gradients as the plain loss, with memory bounded by the chunk.
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
    """GradCache: the plain step's gradients in chunk-sized memory; returns the loss.

    The last chunk is encoded with its graph in the first pass and back-propagated straight away,
    so only the other chunks are encoded twice (at batch 32 in chunks of 32: 3 forwards, not 4).
    """
    query_parts, doc_parts = chunks(batch.queries, chunk_size), chunks(batch.documents, chunk_size)
    parts = query_parts + doc_parts
    states, reps = [], []
    with autocast():
        for index, part in enumerate(parts):
            states.append(rng_state())  # replayed below: same dropout masks
            with torch.set_grad_enabled(index == len(parts) - 1):
                reps.append(encode(model, part).float())
    leaves = [rep.detach().requires_grad_() for rep in reps]
    n = len(query_parts)
    loss = contrastive_loss(torch.cat(leaves[:n]), torch.cat(leaves[n:]), temperature)
    loss.backward()
    reps[-1].backward(leaves[-1].grad)
    rng_after = rng_state()
    for part, state, leaf in zip(parts[:-1], states, leaves):
        set_rng_state(state)
        with autocast():
            rep = encode(model, part).float()
        rep.backward(leaf.grad)
    set_rng_state(rng_after)
    return float(loss.detach())
