"""Data parallelism for real: two gloo processes on 127.0.0.1 with batches of different sizes gather each
other's embeddings as negatives, and their summed gradients equal one process training on the whole batch."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from test_train_model import EXAMPLES, NO_AUTOCAST, batch_for, grads, tiny_model

from trainer.step import backward_plain

WORKER = """
import sys, torch
from safetensors.torch import save_file
sys.path.insert(0, {tests!r})
from test_train_model import EXAMPLES, NO_AUTOCAST, batch_for, grads, tiny_model
from trainer.distributed import gather_with_grad, init_from_env, sum_gradients, world
from trainer.step import backward_plain

init_from_env(torch.device("cpu"))
rank, size = world()
model, tokenizer = tiny_model({model!r})
shard = EXAMPLES[:2] if rank == 0 else EXAMPLES[2:]  # unequal, as task batches are: 2 rows and 1 negative, 4 and 2
loss = backward_plain(model, batch_for(tokenizer, shard), 0.05, NO_AUTOCAST)
sum_gradients([p for p in model.parameters() if p.requires_grad])
gathered = gather_with_grad(torch.full((rank + 1, 2), float(rank)))
save_file({{**grads(model), "loss": torch.tensor([loss]), "gathered": gathered}},
          {out!r} + f"/rank{{rank}}.safetensors")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_processes_match_one_process_on_the_whole_batch(tmp_path, tiny_llm_dir):
    script = tmp_path / "worker.py"
    script.write_text(
        WORKER.format(tests=str(Path(__file__).parent), model=str(tiny_llm_dir), out=str(tmp_path))
    )
    env = {
        **os.environ,
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "OMP_NUM_THREADS": "1",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, str(script)], env={**env, "RANK": str(rank)}, stderr=subprocess.PIPE, text=True
        )
        for rank in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]

    model, tokenizer = tiny_model(tiny_llm_dir)
    loss = backward_plain(model, batch_for(tokenizer, EXAMPLES), 0.05, NO_AUTOCAST)
    reference = grads(model)
    for rank in range(2):
        result = load_file(tmp_path / f"rank{rank}.safetensors")
        assert abs(result.pop("loss").item() - loss) < 1e-4
        torch.testing.assert_close(result.pop("gathered"), torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]))
        assert set(result) == set(reference)
        for name, grad in reference.items():
            torch.testing.assert_close(result[name], grad, rtol=1e-3, atol=1e-6)
