"""``e5 serve``: an encoder behind an OpenAI-compatible HTTP API (FastAPI).

``POST /v1/embeddings`` takes OpenAI's body (``input`` string or list, ``model``, optional
``dimensions``) plus an optional ``instruction``: when given, inputs are encoded as queries
with it; otherwise as documents. Errors use OpenAI's ``{"error": {...}}`` shape.
"""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .protocol import Encoder, check_texts, l2_normalize


class Limits(BaseModel):
    max_inputs: int = 2048
    max_chars_per_input: int = 64_000


class EmbeddingRequest(BaseModel):
    input: str | list[str]
    model: str | None = None
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: str = "float"
    instruction: str | None = None
    user: str | None = None


class APIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def create_app(encoder: Encoder, *, model_name: str | None = None, limits: Limits | None = None,
               extra_routes=None) -> FastAPI:
    """The HTTP app around one encoder. ``extra_routes(app)`` may add more (e.g. chat)."""
    limits = limits or Limits()
    app = FastAPI(title="e5 embeddings", version="1")
    served_name = model_name or encoder.name
    lock = threading.Lock()  # one forward at a time: the model is not re-entrant and cores are few

    @app.exception_handler(APIError)
    async def _api_error(_: Request, err: APIError):
        return JSONResponse(error_body(err.message, param=err.param, code=err.code), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, err: RequestValidationError):
        first = err.errors()[0]
        location = [str(part) for part in first.get("loc", ())[1:]]
        param = location[0] if location else None
        message = f"invalid '{'.'.join(location)}': {first.get('msg')}" if location else "invalid JSON body"
        return JSONResponse(error_body(message, param=param), status_code=400)

    @app.get("/v1/models")
    def list_models():
        return {"object": "list", "data": [{"id": served_name, "object": "model", "created": 0, "owned_by": "e5"}]}

    @app.post("/v1/embeddings")
    def embeddings(body: EmbeddingRequest):
        texts = [body.input] if isinstance(body.input, str) else body.input
        validate_inputs(texts, body, encoder, limits)
        with lock:
            if body.instruction:
                vectors = encoder.encode_queries(texts, body.instruction)
            else:
                vectors = encoder.encode_documents(texts)
        if body.dimensions:  # Matryoshka-style: keep the first dims, renormalise
            vectors = l2_normalize(vectors[:, : body.dimensions])
        tokens = count_tokens(encoder, texts)
        return {
            "object": "list",
            "model": served_name,
            "data": [{"object": "embedding", "index": i, "embedding": serialise(v, body.encoding_format)}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    if extra_routes is not None:
        extra_routes(app)
    app.state.started = time.time()
    return app


def validate_inputs(texts: list[str], body: EmbeddingRequest, encoder: Encoder, limits: Limits) -> None:
    if body.encoding_format not in ("float", "base64"):
        raise APIError(400, "encoding_format must be 'float' or 'base64'", param="encoding_format")
    if not texts:
        raise APIError(400, "'input' must not be empty", param="input")
    if len(texts) > limits.max_inputs:
        raise APIError(400, f"too many inputs: {len(texts)} > {limits.max_inputs}", param="input")
    try:
        check_texts(texts)
    except (TypeError, ValueError) as err:
        raise APIError(400, f"invalid 'input': {err}", param="input") from None
    longest = max(len(t) for t in texts)
    if longest > limits.max_chars_per_input:
        raise APIError(413, f"an input has {longest} characters; the limit is {limits.max_chars_per_input}",
                       param="input", code="input_too_long")
    if body.dimensions and body.dimensions > encoder.dim:
        raise APIError(400, f"dimensions={body.dimensions} exceeds the model's {encoder.dim}", param="dimensions")


def serialise(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """A list of floats, or (what the ``openai`` client asks for) base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()


def count_tokens(encoder: Encoder, texts: list[str]) -> int:
    counter = getattr(encoder, "count_tokens", None)
    return int(np.sum(counter(texts))) if counter else sum(len(t.split()) for t in texts)
