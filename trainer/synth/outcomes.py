"""What a finished response becomes: brainstormed tasks, an example, or a rejection with its reason.

Each ``record_*`` runs inside the transaction that also stores the response and marks the request
done, so an outcome is never stored twice and never lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import SynthConfig
from .gates import Rejected, check_example, check_task, digest, duplicate_keys, normalise
from .parsing import ParseError, extract_json, extract_tasks
from .prompts import get_category
from .store import DONE, ExampleRow, Rejection, Request, Response, Task

if TYPE_CHECKING:
    from .client import Reply


def record_reply(session: Session, request: Request, reply: Reply, config: SynthConfig) -> bool:
    """Store ``reply`` for ``request`` and its outcome; True when it yielded an example or tasks."""
    cost = config.endpoint.cost_usd(reply.prompt_tokens, reply.completion_tokens)
    session.add(
        Response(
            request_id=request.id,
            model=reply.model,
            content=reply.content,
            finish_reason=reply.finish_reason,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            cost_usd=cost,
            latency_s=reply.latency_s,
        )
    )
    request.status, request.error, request.attempts = DONE, None, request.attempts + 1
    record = record_tasks if request.kind == "brainstorm" else record_example
    try:
        record(session, request, reply.content, config)
    except ParseError as err:
        truncated = " (the reply was cut at max_tokens)" if reply.finish_reason == "length" else ""
        session.add(Rejection(request_id=request.id, reason="no_json", detail=f"{err}{truncated}"))
        return False
    except Rejected as err:
        session.add(Rejection(request_id=request.id, reason=err.reason, detail=err.detail))
        return False
    return True


def record_example(session: Session, request: Request, content: str, config: SynthConfig) -> None:
    category = get_category(request.category)
    triple = check_example(category, extract_json(content), request.params, config.gates)
    exact, near = duplicate_keys(triple)
    if session.scalar(select(ExampleRow.id).where(ExampleRow.exact_hash == exact)):
        raise Rejected("duplicate_exact", "the same example was already accepted")
    if session.scalar(select(ExampleRow.id).where(ExampleRow.near_hash == near)):
        raise Rejected("duplicate_near", "an example with the same normalised query and positive exists")
    params = request.params
    language = params.get("language") or f"{params['src_language']}-{params['tgt_language']}"
    instruction = session.get(Task, request.task_id).text if request.task_id else category.instruction
    session.add(
        ExampleRow(
            request_id=request.id,
            category=category.name,
            language=language,
            instruction=instruction,
            exact_hash=exact,
            near_hash=near,
            **triple,
        )
    )


def record_tasks(session: Session, request: Request, content: str, config: SynthConfig) -> None:
    """Keep the new, well-formed task definitions; each dropped one is logged as a rejection."""
    seen = set(session.scalars(select(Task.norm_hash).where(Task.category == request.category)))
    added = 0
    for text in extract_tasks(content):
        try:
            task = check_task(text, config.gates)
            key = digest(normalise(task))
            if key in seen:
                raise Rejected("duplicate_task", task)
        except Rejected as err:
            session.add(Rejection(request_id=request.id, reason=err.reason, detail=err.detail))
            continue
        seen.add(key)
        session.add(Task(category=request.category, text=task, norm_hash=key, request_id=request.id))
        added += 1
    if not added:
        raise Rejected("no_tasks", "the reply held no new usable task")
