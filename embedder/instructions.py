"""Task instructions for the query side, as used by Wang et al. (2024), Table 13."""

from __future__ import annotations

WEB_SEARCH = "Given a web search query, retrieve relevant passages that answer the query"

BEIR: dict[str, str] = {
    "arguana": "Given a claim, find documents that refute the claim",
    "climate-fever": "Given a claim about climate change, retrieve documents that support or refute the claim",
    "cqadupstack": "Given a question, retrieve detailed question descriptions from Stackexchange "
    "that are duplicates to the given question",
    "dbpedia-entity": "Given a query, retrieve relevant entity descriptions from DBPedia",
    "fever": "Given a claim, retrieve documents that support or refute the claim",
    "fiqa": "Given a financial question, retrieve user replies that best answer the question",
    "hotpotqa": "Given a multi-hop question, retrieve documents that can help answer the question",
    "msmarco": WEB_SEARCH,
    "nfcorpus": "Given a question, retrieve relevant documents that best answer the question",
    "nq": "Given a question, retrieve Wikipedia passages that answer the question",
    "quora": "Given a question, retrieve questions that are semantically equivalent to the given question",
    "scidocs": "Given a scientific paper title, retrieve paper abstracts that are cited by the given paper",
    "scifact": "Given a scientific claim, retrieve documents that support or refute the claim",
    "trec-covid": "Given a query on COVID-19, retrieve documents that answer the query",
    "webis-touche2020": "Given a question, retrieve detailed and persuasive arguments that answer the question",
}

OTHER: dict[str, str] = {
    "web-search": WEB_SEARCH,
    "sts": "Retrieve semantically similar text.",
    "bitext": "Retrieve parallel sentences.",
    "qa": "Given a question, retrieve passages that answer the question",
    "duplicate-question": "Retrieve duplicate questions from StackOverflow forum",
}

ALIASES = {"dbpedia": "dbpedia-entity", "touche": "webis-touche2020", "touche2020": "webis-touche2020"}

TASKS: dict[str, str] = {**BEIR, **OTHER}
DEFAULT_TASK = "web-search"


def known_task(name: str) -> str | None:
    """The table key a task or BEIR dataset name stands for (case-insensitive, aliases and CQADupStack
    subsets included), or ``None``."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key.startswith("cqadupstack"):
        key = "cqadupstack"
    return key if key in TASKS else None


def instruction_for(task: str) -> str:
    """The instruction for a task or BEIR dataset name; an unknown name is an error listing the known ones."""
    key = known_task(task)
    if key is None:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[key]


def resolve_instruction(
    instruction: str | None = None, task: str | None = None, *, fallback: str | None = None
) -> str:
    """The query instruction, the one rule every caller uses: an explicit ``instruction`` as given; else the
    instruction of ``task``, where an unknown task is ``fallback`` if one is given and an error if not;
    else the default task's (web search)."""
    if instruction is not None and task is not None:
        raise ValueError("give an instruction or a task, not both")
    if instruction is not None:
        return instruction
    if task is None:
        return TASKS[DEFAULT_TASK]
    if fallback is not None and known_task(task) is None:
        return fallback
    return instruction_for(task)
