"""``hybrid:<spec>``: BM25 fused with a dense encoder, by the same fusion code as the collections."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from ..fusion import FusionConfig, fuse
from .bm25 import BM25Retriever
from .metrics import Run
from .retrieval import TOP_K, Retriever

if TYPE_CHECKING:
    from ..datasets import BeirDataset


def fuse_runs(dense: Run, lexical: Run, fusion: FusionConfig) -> Run:
    """Per query, the fused ranking of two runs (``fusion.candidates`` documents from each side)."""
    return {
        qid: {
            f.key: f.score
            for f in fuse(list(dense.get(qid, {}).items()), list(lexical.get(qid, {}).items()), fusion)
        }
        for qid in dict.fromkeys([*dense, *lexical])
    }


class HybridRetriever:
    """A dense retriever and BM25 (or any lexical ``Retriever``), fused; tokens are the dense side's."""

    def __init__(
        self, dense: Retriever, lexical: Retriever | None = None, fusion: FusionConfig | None = None
    ):
        self.dense, self.lexical = dense, lexical or BM25Retriever()
        self.fusion = fusion or FusionConfig()
        self.name = f"hybrid:{dense.name}"  # its registry spec
        self.config = getattr(getattr(dense, "encoder", None), "config", None)  # recorded with each result

    @property
    def tokens(self) -> int | None:
        return self.dense.tokens

    @property
    def cache_hit(self) -> bool:
        return getattr(self.dense, "cache_hit", False)

    @property
    def fusion_settings(self) -> dict:
        return asdict(self.fusion)

    def search(self, dataset: BeirDataset, instruction: str, k: int = TOP_K) -> Run:
        runs = self.runs(dataset, instruction, k)
        return fuse_runs(*runs, self.fusion)

    def runs(self, dataset: BeirDataset, instruction: str, k: int = TOP_K) -> tuple[Run, Run]:
        """(dense run, lexical run) before fusion; fusing them again with other settings costs no encoding."""
        return self.dense.search(dataset, instruction, k), self.lexical.search(dataset, "", k)
