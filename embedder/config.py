"""The LLM embedder's typed configuration (``embedder.backends.llm``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class EmbedderConfig:
    """Everything that determines how the LLM embedder turns text into vectors.

    ``model`` is an HF id or local folder (``None``: the packaged SmolLM2-135M-Instruct).
    ``num_layers`` keeps only the first K transformer layers (a speed/quality lever).
    ``compile`` runs the model through ``torch.compile`` (fused norm/rotary/activation kernels; a
    one-off compile of a minute or more).
    ``packing`` lays each batch's texts end to end with no padding (see ``embedder.packing``), up to
    ``batch_tokens`` tokens a batch; turn it off only for a model whose attention does not take
    transformers' ``cu_seq_lens_q``. ``batch_size`` is the number of texts per padded batch.
    ``pooling`` turns hidden states into one vector (``embedder.pooling.POOLING``: ``last``, the EOS
    token's, or ``mean``); an adapter's ``embedder.json`` sets the one it was trained with.
    """

    model: str | None = None
    adapter: str | None = None
    template: str = "paper"
    max_length: int = 512
    batch_size: int = 16
    device: str = "auto"
    dtype: str = "auto"
    threads: int | None = None
    num_layers: int | None = None
    compile: bool = False
    packing: bool = True
    batch_tokens: int = 4096
    pooling: str = "last"

    def __post_init__(self) -> None:
        if self.max_length < 2:
            raise ValueError(f"max_length must be at least 2 (text + EOS), got {self.max_length}")
        if self.batch_tokens < 1:
            raise ValueError(f"batch_tokens must be positive, got {self.batch_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.device not in {"auto", "cpu", "cuda", "mps"} and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu, cuda[:N] or mps, got {self.device!r}")
        if self.dtype not in {"auto", "float32", "bfloat16", "float16"}:
            raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"num_layers must be positive, got {self.num_layers}")

    def to_dict(self) -> dict:
        return asdict(self)
