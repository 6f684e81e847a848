"""``python -m trainer --config ...``: the ``e5 train`` command, for launchers that need a module
(``torchrun --nproc_per_node 8 -m trainer --config trainer/configs/mistral-7b-gpu.toml``)."""

import typer

from .cli import train_command

if __name__ == "__main__":
    typer.run(train_command)
