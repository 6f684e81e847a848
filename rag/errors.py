"""Errors of the retrieval package; every message names the problem and what to do about it."""


class RagError(ValueError):
    """A user-facing failure (bad path, unknown collection, mismatched encoder, untrainable index)."""


class CollectionNotFound(RagError):
    pass


class CollectionMismatch(RagError):
    """The collection was built with another encoder or other chunking/index settings."""


class EncoderMismatch(CollectionMismatch):
    """The collection was built with another encoder (another model, dimension or adapter release)."""
