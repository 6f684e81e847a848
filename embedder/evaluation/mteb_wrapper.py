"""mteb (2.x) integration: any project ``Encoder`` as an mteb model, and BEIR folders on disk as mteb tasks.

mteb hands the model a ``DataLoader`` and a ``prompt_type``: queries get the paper's instruction for
the task (``Instruct: ...\\nQuery: ...`` through the encoder's template), documents get none, and
symmetric tasks (``prompt_type=None``, e.g. STS) get the instruction on both sides, as in the paper.
Official mteb tasks download from the Hugging Face hub; to run offline on data already on disk::

    import mteb
    from ..datasets import load_beir
    from embedder.evaluation.mteb_wrapper import MtebEncoder, beir_task
    from embedder.registry import load_encoder

    task = beir_task(load_beir("shared/data/scifact", "test"))
    result = mteb.evaluate(MtebEncoder(load_encoder("minilm")), task, cache=None)
    result.task_results[0].get_score()      # nDCG@10, the same as `e5 bench beir`
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
from datasets import Dataset
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.types import PromptType

from ..datasets import BeirDataset
from ..instructions import resolve_instruction

if TYPE_CHECKING:
    from mteb.types import BatchedInput
    from torch.utils.data import DataLoader

    from ..protocol import Encoder

# mteb task names whose paper instruction sits under another key in ``embedder.instructions``
MTEB_NAMES = {
    "fiqa2018": "fiqa",
    "treccovid": "trec-covid",
    "climatefever": "climate-fever",
    "quoraretrieval": "quora",
}


def task_instruction(task_metadata: TaskMetadata) -> str:
    """The paper's instruction for an mteb task: by name, else the task's own query prompt, else web search."""
    key = re.sub(r"[^a-z0-9-]", "", task_metadata.name.lower())
    key = MTEB_NAMES.get(key, key)
    prompt = task_metadata.prompt
    prompt = prompt.get(PromptType.query.value) if isinstance(prompt, dict) else prompt
    return resolve_instruction(task=key, fallback=prompt or resolve_instruction())


class MtebEncoder(AbsEncoder):
    """mteb's encoder protocol over a project ``Encoder``; ``instructions`` override per mteb task name."""

    def __init__(self, encoder: Encoder, instructions: dict[str, str] | None = None):
        self.model = encoder
        self.instructions = dict(instructions or {})
        self.mteb_model_meta = ModelMeta.create_empty(
            overwrites={
                "name": "e5/" + re.sub(r"[^\w.-]+", "_", encoder.name),
                "revision": "local",
                "similarity_fn_name": ScoringFunction.COSINE,
                "use_instructions": True,
                "framework": ["PyTorch"],
            }
        )

    def encode(
        self,
        inputs: DataLoader[BatchedInput],
        *,
        task_metadata: TaskMetadata,
        hf_split: str,
        hf_subset: str,
        prompt_type: PromptType | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        if prompt_type == PromptType.document:
            return self.model.encode_documents(texts)
        instruction = self.instructions.get(task_metadata.name) or task_instruction(task_metadata)
        return self.model.encode_queries(texts, instruction)


def retrieval_metadata(
    name: str, split: str, description: str, source: dict, prompt: str | dict | None = None
) -> TaskMetadata:
    """mteb's metadata of a local English text retrieval task (``source``: mteb's ``dataset`` path/revision)."""
    return TaskMetadata(
        name=name,
        type="Retrieval",
        main_score="ndcg_at_10",
        description=description,
        reference=None,
        dataset=source,
        category="t2t",
        eval_splits=[split],
        eval_langs=["eng-Latn"],
        date=None,
        dialect=[],
        domains=[],
        task_subtypes=[],
        license="not specified",
        annotations_creators=None,
        modalities=["text"],
        sample_creation=None,
        bibtex_citation="",
        prompt=prompt,
    )


def beir_task(dataset: BeirDataset) -> AbsTaskRetrieval:
    """An mteb retrieval task over a loaded BEIR dataset (BEIR conventions: a query never retrieves itself)."""
    metadata = retrieval_metadata(
        dataset.name,
        dataset.split,
        f"BEIR folder '{dataset.label}' from local disk",
        {"path": f"local/{dataset.name}", "revision": dataset.fingerprint},
    )
    split = RetrievalSplitData(
        queries=Dataset.from_dict({"id": list(dataset.queries), "text": list(dataset.queries.values())}),
        corpus=Dataset.from_dict(
            {
                "id": list(dataset.corpus),
                "title": [t for t, _ in dataset.corpus.values()],
                "text": [x for _, x in dataset.corpus.values()],
            }
        ),
        relevant_docs=dataset.qrels,
        top_ranked=None,
    )

    class LocalBeirTask(AbsTaskRetrieval):
        ignore_identical_ids = True

        def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
            self.dataset = {"default": {dataset.split: split}}
            self.data_loaded = True

    LocalBeirTask.metadata = metadata
    return LocalBeirTask()


def run_mteb(encoder: Encoder, dataset: BeirDataset) -> dict[str, float]:
    """mteb's own retrieval scores of an encoder on a loaded BEIR dataset (nothing written to mteb's cache)."""
    import mteb

    result = mteb.evaluate(MtebEncoder(encoder), beir_task(dataset), cache=None, show_progress_bar=False)
    return dict(result.task_results[0].scores[dataset.split][0])
