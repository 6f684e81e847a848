"""BM25 baseline (``bm25s``, Lucene scoring, English stopwords and Snowball stemming).

BEIR's own BM25 numbers come from Elasticsearch with the English analyser; this is the same
family (Lucene BM25, k1=1.2-1.5, b=0.75), close but not byte-identical. Queries get no instruction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .metrics import Run
from .retrieval import TOP_K

if TYPE_CHECKING:
    from bm25s.tokenization import Tokenized

    from ..datasets import BeirDataset


class BM25Retriever:
    """Lexical retriever with the ``Retriever`` interface; the index is rebuilt per dataset (seconds)."""

    name = "bm25"

    def __init__(self, k1: float = 1.2, b: float = 0.75, stem: bool = True):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b
        self.stemmer = english_stemmer() if stem else None
        self.tokens: int | None = None  # no model, no tokens billed

    def search(self, dataset: BeirDataset, instruction: str = "", k: int = TOP_K) -> Run:
        import bm25s

        doc_ids = list(dataset.corpus)
        index = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        index.index(self.tokenize(dataset.document_texts()), show_progress=False)
        query_ids = list(dataset.queries)
        docs, scores = index.retrieve(
            self.tokenize(list(dataset.queries.values())), k=min(k, len(doc_ids)), show_progress=False
        )
        return {
            qid: {doc_ids[d]: float(s) for d, s in zip(row, score, strict=True) if s > 0}
            for qid, row, score in zip(query_ids, docs, scores, strict=True)
        }

    def score_matrix(self, queries: list[str], documents: list[str]) -> np.ndarray:
        """BM25 score of every query against every document (``len(queries) x len(documents)``), the
        statistics (IDF, average length) taken over ``documents``: a teacher's lexical view of a batch."""
        import bm25s

        index = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        index.index(self.tokenize(documents, return_ids=False), show_progress=False)
        known = set(index.vocab_dict)
        scores = np.zeros((len(queries), len(documents)), dtype=np.float32)
        for row, tokens in enumerate(self.tokenize(queries, return_ids=False)):
            shared = [t for t in tokens if t in known]
            if shared:  # a query with no term of the batch scores zero everywhere
                scores[row] = index.get_scores(shared)
        return scores

    def tokenize(self, texts: list[str], return_ids: bool = True) -> Tokenized | list[list[str]]:
        import bm25s

        return bm25s.tokenize(
            texts, stopwords="en", stemmer=self.stemmer, return_ids=return_ids, show_progress=False
        )


def english_stemmer() -> Callable[[list[str]], list[str]]:
    """Snowball English stemmer from PyStemmer (BEIR's Elasticsearch analyser stems too)."""
    try:
        import Stemmer
    except ImportError:
        raise ImportError("BM25 stemming needs PyStemmer: pip install PyStemmer") from None
    return Stemmer.Stemmer("english").stemWords
