"""A synthetic-data run: brainstorm tasks, plan one request per example slot, send, gate, store.

Request keys are deterministic (``brainstorm/<type>/<round>``, ``example/<type>/<slot>``) and each
request's placeholders are drawn from a generator seeded by its key, so rerunning the same command
after a crash sends only the requests that never finished.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import openai
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from tqdm import tqdm

from .client import ChatClient
from .config import SynthConfig
from .outcomes import record_reply
from .prompts import Category, brainstorm_messages, example_messages, get_category, sample_params
from .store import FAILED, PENDING, Request, Task, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    """What one invocation did (earlier runs on the same database are not counted)."""

    sent: int
    accepted: int
    rejected: int
    failed: int
    seconds: float


def run_synth(config: SynthConfig, db_url: str | None = None, progress: bool = True) -> RunSummary:
    """Generate (or resume generating) the examples ``config`` asks for into the database at ``db_url``."""
    return asyncio.run(Run(config, open_store(db_url), progress).main())


class Run:
    def __init__(self, config: SynthConfig, sessions: sessionmaker, progress: bool):
        self.config, self.sessions, self.progress = config, sessions, progress
        self.counts: Counter[str] = Counter()

    async def main(self) -> RunSummary:
        started = time.perf_counter()
        self.client = ChatClient(self.config.endpoint)
        # One limit for the whole run: the brainstorms of several types run side by side.
        self.slots = asyncio.Semaphore(self.config.endpoint.concurrency)
        try:
            plan = [(get_category(name), count) for name, count in self.config.per_type().items()]
            await asyncio.gather(*(self.ensure_tasks(c, n) for c, n in plan if c.two_step))
            for category, count in plan:
                self.plan_examples(category, count)
            await self.send(self.open_requests("example"), "examples")
        finally:
            await self.client.close()
        c = self.counts
        return RunSummary(
            sent=c["sent"],
            accepted=c["accepted"],
            rejected=c["rejected"],
            failed=c["failed"],
            seconds=time.perf_counter() - started,
        )

    async def ensure_tasks(self, category: Category, slots: int) -> None:
        """Brainstorm until the category has a task for every slot, within a bounded number of rounds."""
        needed = math.ceil(slots / self.config.examples_per_task)
        per_round = self.config.tasks_per_brainstorm
        max_rounds = 2 * math.ceil(needed / per_round) + 2
        while (have := self.task_count(category)) < needed:
            todo = self.open_requests("brainstorm", category.name)
            if not todo:
                todo = self.plan_brainstorms(category, math.ceil((needed - have) / per_round), max_rounds)
            if not todo or not await self.send(todo, f"tasks {category.name}"):
                log.warning(
                    "%s: only %d of %d tasks after %d brainstorm rounds",
                    category.name,
                    have,
                    needed,
                    self.rounds(category),
                )
                return

    def plan_brainstorms(self, category: Category, count: int, max_rounds: int) -> list[Request]:
        first = self.rounds(category)
        messages = brainstorm_messages(category, self.config.tasks_per_brainstorm)
        with self.sessions.begin() as session:
            requests = [
                Request(
                    key=f"brainstorm/{category.name}/{r}",
                    kind="brainstorm",
                    category=category.name,
                    params={},
                    messages=messages,
                )
                for r in range(first, min(first + count, max_rounds))
            ]
            session.add_all(requests)
        return requests

    def plan_examples(self, category: Category, count: int) -> None:
        """Create the request of every example slot not planned yet, with its sampled placeholders."""
        with self.sessions.begin() as session:
            planned = set(
                session.scalars(
                    select(Request.key).where(Request.kind == "example", Request.category == category.name)
                )
            )
            tasks = session.scalars(
                select(Task).where(Task.category == category.name).order_by(Task.id)
            ).all()
            for slot in range(count):
                key = f"example/{category.name}/{slot}"
                if key in planned:
                    continue
                task = None
                if category.two_step:
                    if slot // self.config.examples_per_task >= len(tasks):
                        break  # too few tasks for the remaining slots; ensure_tasks warned
                    task = tasks[slot // self.config.examples_per_task]
                rng = random.Random(f"{self.config.seed}/{key}")
                params = sample_params(category, rng, self.config.languages)
                session.add(
                    Request(
                        key=key,
                        kind="example",
                        category=category.name,
                        params=params,
                        task_id=task.id if task else None,
                        messages=example_messages(category, params, task.text if task else None),
                    )
                )

    async def send(self, requests: Sequence[Request], label: str) -> int:
        """Send ``requests`` with at most ``concurrency`` in flight; returns how many finished."""
        bar = tqdm(total=len(requests), desc=label, unit="req", disable=not self.progress or not requests)
        finished = 0

        async def one(request: Request) -> None:
            nonlocal finished
            finished += await self.send_one(request)
            bar.update()
            bar.set_postfix(accepted=self.counts["accepted"], rejected=self.counts["rejected"])

        await bounded(requests, one, self.config.endpoint.concurrency)
        bar.close()
        return finished

    async def send_one(self, request: Request) -> bool:
        try:
            async with self.slots:
                self.counts["sent"] += 1
                reply = await self.client.complete(request.messages)
        except openai.APIError as err:
            self.counts["failed"] += 1
            log.warning("%s failed after retries: %s", request.key, err)
            with self.sessions.begin() as session:
                row = session.get(Request, request.id)
                row.status, row.error, row.attempts = FAILED, str(err)[:2000], row.attempts + 1
            return False
        with self.sessions.begin() as session:
            ok = record_reply(session, session.get(Request, request.id), reply, self.config)
        if request.kind == "example":
            self.counts["accepted" if ok else "rejected"] += 1
        return True

    def open_requests(self, kind: str, category: str | None = None) -> list[Request]:
        """Planned requests that never finished (pending, or failed in an earlier attempt)."""
        query = select(Request).where(Request.kind == kind, Request.status.in_((PENDING, FAILED)))
        if category:
            query = query.where(Request.category == category)
        with self.sessions() as session:
            return list(session.scalars(query.order_by(Request.id)))

    def task_count(self, category: Category) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count(Task.id)).where(Task.category == category.name))

    def rounds(self, category: Category) -> int:
        with self.sessions() as session:
            return session.scalar(
                select(func.count(Request.id)).where(
                    Request.kind == "brainstorm", Request.category == category.name
                )
            )


async def bounded(items: Sequence, worker: Callable[[object], Awaitable[None]], limit: int) -> None:
    """Run ``worker`` over ``items`` with at most ``limit`` running at once."""
    queue = iter(items)

    async def drain() -> None:
        for item in queue:
            await worker(item)

    await asyncio.gather(*(drain() for _ in range(min(limit, len(items)))))
