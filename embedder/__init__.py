"""Decoder LLMs as text embedders (Wang et al., 2024), behind one ``Encoder`` protocol."""

from .instructions import instruction_for
from .pooling import last_token_pool
from .prompts import format_query
from .protocol import Encoder
from .registry import MODELS, load_encoder
from .settings import EmbedderConfig, e5_home

__all__ = [
           "MODELS",
           "EmbedderConfig",
           "Encoder",
           "e5_home",
           "format_query",
           "instruction_for",
           "last_token_pool",
           "load_encoder",
]
