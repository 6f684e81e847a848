"""The synthetic-data pipeline against a scripted OpenAI-compatible server on 127.0.0.1.

The server answers from the prompt: brainstorm prompts get the scripted task list; an example
prompt for task ``Scripted task <behaviour>-<k>`` gets the reply that behaviour names (valid, fenced,
malformed, schema, duplicate, copied, 429, 500, timeout, down), built from the keys the prompt asks for.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from trainer.synth.client import ChatClient
from trainer.synth.config import EndpointConfig, SynthConfig
from trainer.synth.pipeline import run_synth
from trainer.synth.report import export_jsonl, synth_stats
from trainer.synth.store import ExampleRow, Request, Response, open_store
from ui.cli import app

FILLER = (
    "walks along the quiet harbour at dawn while fishing boats return with their nets full of silver fish"
)
TASK = re.compile(r"Scripted task (\w+)-(\d+):")


def task(behaviour: str, k: int) -> str:
    return f"Scripted task {behaviour}-{k}: find notes about item {k}."


def completion(content: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
    }


class Scripted(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.tasks: list[str] = []
        self.delay, self.down, self.refuse_json = 0.0, False, False
        self.log: list[tuple[float, str, dict]] = []  # (arrival, prompt, body)
        self.lock, self.serial = threading.Lock(), count()
        self.active = self.peak = 0  # requests in flight, and their maximum

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def seen(self, needle: str) -> int:
        return sum(needle in prompt for _, prompt, _ in self.log)

    def respond(self, body: dict) -> tuple[int, dict, dict]:
        prompt = body["messages"][-1]["content"]
        with self.lock:  # counted under the lock: concurrent brainstorms must get distinct task numbers
            self.log.append((time.monotonic(), prompt, body))
            attempt, brainstorms = self.seen(prompt), self.seen("Come up with")
        if self.refuse_json and "response_format" in body:
            return 400, {"error": {"message": "Unknown parameter: 'response_format'."}}, {}
        time.sleep(self.delay)
        if prompt.startswith("Come up with"):  # each brainstorm gets its own task numbers
            offset = 100 * (brainstorms - 1)
            tasks = [TASK.sub(lambda m: f"Scripted task {m[1]}-{int(m[2]) + offset}:", t) for t in self.tasks]
            return 200, completion(json.dumps({"tasks": tasks})), {}
        if prompt.startswith("backoff"):  # raw client tests
            failing = {"429": 429, "retry": 503}[prompt.split()[1]]
            limit = 3 if failing == 429 else 1
            return (
                (failing, {"error": {"message": "busy"}}, {"retry-after": "1"} if failing == 503 else {})
                if attempt <= limit
                else (200, completion("{}"), {})
            )
        match = TASK.search(prompt)
        behaviour, k = match.groups() if match else ("valid", f"u{next(self.serial)}")
        keys = re.findall(r'^- "(\w+)":', prompt, re.MULTILINE) or ["S1", "S2", "S3"]  # sts, bitext
        return self.scripted(behaviour, k, keys, attempt)

    def scripted(self, behaviour: str, k: str, keys: list[str], attempt: int) -> tuple[int, dict, dict]:
        if behaviour == "down" and self.down or behaviour in ("429", "500") and attempt == 1:
            status = 429 if behaviour == "429" else 500
            return status, {"error": {"message": f"scripted {status}"}}, {}
        if behaviour == "timeout" and attempt == 1:
            time.sleep(3.0)  # past the client's timeout
        value = {key: f"{key} {behaviour} {k} {FILLER}" for key in keys}
        if behaviour == "duplicate":  # same as valid-<k> up to case and punctuation
            value = {key: f"{key.upper()} valid {k} {FILLER}!" for key in keys}
        content = {
            "fenced": f"Here you go:\n```json\n{json.dumps(value)}\n```\nAnything else?",
            "malformed": json.dumps(value)[:60],
            "schema": json.dumps({"question": "q", "answer": "a"}),
            "copied": json.dumps({**value, keys[0]: "the quiet harbour at dawn"}),
        }.get(behaviour, json.dumps(value))
        return 200, completion(content), {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.active += 1
            self.server.peak = max(self.server.peak, self.server.active)
        try:
            status, payload, headers = self.server.respond(body)
        finally:
            with self.server.lock:
                self.server.active -= 1
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    scripted = Scripted()
    thread = threading.Thread(target=scripted.serve_forever, daemon=True)
    thread.start()
    yield scripted
    scripted.shutdown()
    scripted.server_close()


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'synth.db'}"


def config(server: Scripted, n: int, types=("short-long",), **endpoint) -> SynthConfig:
    settings = {
        "base_url": server.url,
        "model": "scripted",
        "timeout": 10.0,
        "max_retries": 2,
        "concurrency": 4,
        **endpoint,
    }
    return SynthConfig(
        n=n, types=types, languages=(("English", 1.0), ("German", 1.0)), endpoint=EndpointConfig(**settings)
    )


SCRIPT = [
    "valid",
    "valid",
    "valid",
    "fenced",
    "malformed",
    "schema",
    "duplicate",
    "copied",
    "429",
    "500",
    "timeout",
]


def test_scripted_replies_give_exact_counts(server, db):
    server.tasks = [task(b, k) for k, b in enumerate(SCRIPT, 1)] + [task("valid", 1).upper(), "Too short."]
    server.tasks[6] = task("duplicate", 1)  # near-duplicate of valid-1
    summary = run_synth(config(server, n=len(SCRIPT), timeout=2.0), db, progress=False)  # server stalls 3 s

    assert (summary.accepted, summary.rejected, summary.failed) == (7, 4, 0)
    stats = synth_stats(db)
    assert stats.requests == {"brainstorm done": 1, "example done": 11}
    assert stats.by_type == {"short-long": 7}
    assert stats.rejections == {
        "no_json": 1,
        "schema": 1,
        "duplicate_near": 1,
        "copied_query": 1,
        "duplicate_task": 1,
        "task_length": 1,
    }
    assert [(u.model, u.responses, u.prompt_tokens, u.completion_tokens) for u in stats.usage] == [
        ("scripted", 12, 120, 240)
    ]
    assert stats.acceptance_rate == pytest.approx(7 / 11)
    assert stats.tokens_per_example == pytest.approx(12 * 30 / 7)
    # Transient failures were retried by the client; everything else was asked once.
    attempts = Counter(TASK.search(p).group(0) for _, p, _ in server.log if TASK.search(p))
    assert {k for k, v in attempts.items() if v == 2} == {
        f"Scripted task {b}-{k}:" for k, b in [(9, "429"), (10, "500"), (11, "timeout")]
    }
    assert set(attempts.values()) == {1, 2}
    # The rejected raw output is kept for audit.
    with open_store(db)() as session:
        kept = session.scalar(
            select(Response.content).join(Request).where(Request.key == "example/short-long/4")
        )
    assert kept.startswith('{"user_query": "user_query malformed 5')


def test_backoff_is_exponential_and_honours_retry_after(server):
    import asyncio

    async def ask(prompt: str) -> None:
        client = ChatClient(EndpointConfig(base_url=server.url, max_retries=4, response_format="off"))
        await client.complete([{"role": "user", "content": prompt}])
        await client.close()

    for prompt in ("backoff 429", "backoff retry"):
        asyncio.run(ask(prompt))
    arrivals = {
        p: [t for t, prompt, _ in server.log if prompt == p] for p in ("backoff 429", "backoff retry")
    }
    gaps = [b - a for a, b in zip(arrivals["backoff 429"], arrivals["backoff 429"][1:], strict=False)]
    assert len(gaps) == 3  # three 429s, then success
    # openai's schedule: 0.5 s doubling, minus up to 25 % jitter.
    for gap, base in zip(gaps, (0.5, 1.0, 2.0), strict=False):
        assert 0.75 * base - 0.05 <= gap <= base + 1.0  # slack above for a loaded machine
    retry_gap = arrivals["backoff retry"][1] - arrivals["backoff retry"][0]
    assert 0.95 <= retry_gap <= 2.0  # Retry-After: 1 wins over the 0.5 s backoff


def test_failed_requests_are_kept_and_retried_on_rerun(server, db):
    server.tasks = [task("valid", 1), task("down", 2)]
    server.down = True
    first = run_synth(config(server, n=2, max_retries=1), db, progress=False)
    assert (first.accepted, first.failed) == (1, 1)
    with open_store(db)() as session:
        failed = session.scalars(select(Request).where(Request.status == "failed")).one()
    assert failed.key == "example/short-long/1" and "500" in failed.error

    server.down = False
    second = run_synth(config(server, n=2, max_retries=1), db, progress=False)
    assert (second.sent, second.accepted, second.failed) == (1, 1, 0)
    assert server.seen(task("valid", 1)) == 1 and server.seen("Come up with") == 1
    assert synth_stats(db).by_type == {"short-long": 2}


def test_response_format_auto_falls_back_json_mode_fails(server, db, tmp_path):
    server.tasks, server.refuse_json = [task("valid", 1), task("valid", 2)], True
    summary = run_synth(config(server, n=2, concurrency=1), db, progress=False)
    assert summary.accepted == 2
    assert ["response_format" in body for _, _, body in server.log] == [True, False, False, False]

    strict = run_synth(
        config(server, n=1, response_format="json"), f"sqlite:///{tmp_path / 'b.db'}", progress=False
    )
    assert (strict.sent, strict.failed, strict.accepted) == (1, 1, 0)  # the brainstorm itself was refused


def test_all_types_and_export_format(server, db, tmp_path):
    server.tasks = [task("valid", k) for k in range(1, 6)]
    types = ("short-long", "long-short", "short-short", "long-long", "sts", "bitext")
    summary = run_synth(config(server, n=12, types=types), db, progress=False)
    assert (summary.accepted, summary.rejected) == (12, 0)

    out = tmp_path / "train.jsonl"
    result = CliRunner().invoke(app, ["synth", "export", str(out), "--db", db])
    assert result.exit_code == 0 and "wrote 12 examples" in result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert Counter(r["type"] for r in rows) == dict.fromkeys(types, 2)
    for row in rows:
        fields = {"query", "positive", "instruction", "type", "language"}
        assert set(row) == (fields if row["type"] in ("short-short", "long-long") else fields | {"negative"})
        assert all(isinstance(v, str) and v for v in row.values())
        if row["type"] == "sts":
            assert row["instruction"] == "Retrieve semantically similar text."
        elif row["type"] == "bitext":
            assert row["language"] in ("English-German", "German-English")
        else:
            assert TASK.match(row["instruction"]) and row["language"] in ("English", "German")
    short_long = next(r for r in rows if r["type"] == "short-long")
    assert (
        short_long["query"].startswith("user_query valid")
        and "hard_negative_document" in short_long["negative"]
    )
    assert export_jsonl(tmp_path / "sts.jsonl", db, ("sts",)) == 2

    stats = CliRunner().invoke(app, ["synth", "stats", "--db", db])
    assert stats.exit_code == 0 and "acceptance rate 100.0%" in stats.output


def test_concurrency_limit_holds_across_types(server, db):
    server.tasks, server.delay = [task("valid", k) for k in range(1, 3)], 0.2
    summary = run_synth(
        config(server, n=6, types=("short-long", "short-short", "long-long"), concurrency=2),
        db,
        progress=False,
    )
    assert summary.accepted == 6
    assert server.peak == 2  # three brainstorms at once were possible; two were allowed


def test_cli_rejects_bad_options(db):
    result = CliRunner().invoke(app, ["synth", "run", "--types", "poems", "--db", db])
    assert result.exit_code == 2 and "poems" in result.output
    result = CliRunner().invoke(app, ["synth", "run", "--languages", "Klingon", "--db", db])
    assert result.exit_code == 2 and "Klingon" in result.output


def test_resume_after_sigkill_has_no_duplicates_and_loses_nothing(server, tmp_path):
    n, db_file = 24, tmp_path / "resume.db"
    db = f"sqlite:///{db_file}"
    server.tasks, server.delay = [task("valid", k) for k in range(1, n + 1)], 0.25
    command = [
        sys.executable,
        "-c",
        "from ui.cli import app; app()",
        "synth",
        "run",
        "--n",
        str(n),
        "--types",
        "short-long",
        "--languages",
        "en",
        "--base-url",
        server.url,
        "--model",
        "scripted",
        "--concurrency",
        "2",
        "--db",
        db,
    ]
    env = {**os.environ, "E5_HOME": str(tmp_path)}
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sessions = open_store(db)
    deadline = time.monotonic() + 60
    while examples(sessions) < 5 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    with sessions() as session:
        done_before = set(session.scalars(select(Request.key).where(Request.status == "done")))
    kept = examples(sessions)
    assert 5 <= kept < n, victim.stderr.read().decode()[-2000:]
    killed_at = len(server.log)

    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    with sessions() as session:
        queries = list(session.scalars(select(ExampleRow.query)))
        task_ids = list(session.scalars(select(Request.task_id).where(Request.kind == "example")))
        done_keys = {r.key: r.messages[0]["content"] for r in session.scalars(select(Request))}
    assert len(queries) == len(set(queries)) == n  # nothing lost, nothing twice
    assert len(set(task_ids)) == n
    resent = [prompt for _, prompt, _ in server.log[killed_at:]]
    assert not any(done_keys[key] in resent for key in done_before)
    assert not any(prompt.startswith("Come up with") for prompt in resent)


def examples(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count(ExampleRow.id)))
