"""HTTP servers: the OpenAI-compatible embeddings API (``server``) and the local chat endpoint (``chat``)."""
