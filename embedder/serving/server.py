"""``e5 serve``: an encoder behind an OpenAI-compatible HTTP API (FastAPI).

``POST /v1/embeddings`` takes OpenAI's body (``input`` string or list, ``model``, optional
``dimensions``) plus an optional ``instruction``: when given, inputs are encoded as queries
with it; otherwise as documents. Errors use OpenAI's ``{"error": {...}}`` shape, 404 and 405
included. With an API key every request needs ``Authorization: Bearer <key>`` (else 401); a body
larger than ``Limits.max_body_bytes`` is refused with 413 before it is read.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Annotated

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..embed import embed_texts
from ..protocol import Encoder, check_texts, l2_normalize, surrogate_at


class Limits(BaseModel):
    max_inputs: int = 2048
    max_chars_per_input: int = 64_000
    max_body_bytes: int = 16 * 2**20


def valid_unicode(text: str) -> str:
    if (position := surrogate_at(text)) is not None:
        raise ValueError(f"not valid Unicode: a lone surrogate at character {position}")
    return text


Text = Annotated[str, AfterValidator(valid_unicode)]  # JSON's "\ud800" escapes decode to lone surrogates


class EmbeddingRequest(BaseModel):
    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: str = "float"
    instruction: Text | None = None
    user: str | None = None


class APIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(
    message: str, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def check_model(requested: str | None, served: set[str]) -> None:
    """A request naming a model this server does not serve is refused (no model named: the served one)."""
    if requested is not None and requested not in served:
        raise APIError(
            404,
            f"The model '{requested}' does not exist on this server (it serves {', '.join(sorted(served))})",
            param="model",
            code="model_not_found",
        )


def create_app(
    encoder: Encoder,
    *,
    model_name: str | None = None,
    limits: Limits | None = None,
    extra_routes: Callable[[FastAPI], None] | None = None,
    api_key: str | None = None,
) -> FastAPI:
    """The HTTP app around one encoder. ``extra_routes(app)`` may add more (e.g. chat); ``app.state.models``
    lists the model names served (``/v1/models``)."""
    limits = limits or Limits()
    app = FastAPI(title="e5 embeddings", version="1")
    served_name = model_name or encoder.name
    app.state.models = [served_name]
    lock = threading.Lock()  # one forward at a time: the model is not re-entrant and cores are few

    @app.exception_handler(APIError)
    async def _api_error(_: Request, err: APIError):
        return JSONResponse(error_body(err.message, param=err.param, code=err.code), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, err: RequestValidationError):
        first = err.errors()[0]
        if first.get("type") == "json_invalid":  # its location is a character offset, not a parameter
            detail = (first.get("ctx") or {}).get("error", first.get("msg"))
            return JSONResponse(error_body(f"invalid JSON body: {detail}"), status_code=400)
        location = [str(part) for part in first.get("loc", ())[1:]]
        param = location[0] if location else None
        message = f"invalid '{'.'.join(location)}': {first.get('msg')}" if location else "invalid JSON body"
        return JSONResponse(error_body(message, param=param), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, err: HTTPException):
        message = (
            f"Invalid URL ({request.method} {request.url.path})"
            if err.status_code == 404
            else f"{err.detail} ({request.method} {request.url.path})"
        )
        return JSONResponse(error_body(message), status_code=err.status_code, headers=err.headers)

    @app.exception_handler(Exception)
    async def _server_error(_: Request, err: Exception):
        return JSONResponse(
            error_body(f"internal server error ({type(err).__name__})", kind="server_error"), status_code=500
        )

    @app.get("/v1/models")
    def list_models():
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "e5"} for name in app.state.models
            ],
        }

    @app.post("/v1/embeddings")
    def embeddings(body: EmbeddingRequest):
        check_model(body.model, {served_name, encoder.name})
        texts = [body.input] if isinstance(body.input, str) else body.input
        validate_inputs(texts, body, encoder, limits)
        with lock:
            vectors = embed_texts(encoder, texts, instruction=body.instruction or None)
        if body.dimensions:  # Matryoshka-style: keep the first dims, renormalise
            vectors = l2_normalize(vectors[:, : body.dimensions])
        tokens = count_tokens(encoder, texts)
        return {
            "object": "list",
            "model": served_name,
            "data": [
                {"object": "embedding", "index": i, "embedding": serialise(v, body.encoding_format)}
                for i, v in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    if extra_routes is not None:
        extra_routes(app)
    app.add_middleware(Gate, api_key=api_key or None, max_body_bytes=limits.max_body_bytes)
    app.state.started = time.time()
    return app


class Gate:
    """ASGI middleware in front of every route: the API key, then the body size, before the body is read.

    A declared ``Content-Length`` over the limit is refused at once; a body without one (chunked) is
    read up to the limit only, then handed on.
    """

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int):
        self.app, self.api_key, self.max_body_bytes = app, api_key, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if self.api_key and not authorized(headers.get("authorization", ""), self.api_key):
            return await refuse(
                scope,
                receive,
                send,
                401,
                "Incorrect or missing API key: send the header "
                "'Authorization: Bearer <key>' with the key the server was started with",
                code="invalid_api_key",
            )
        declared = headers.get("content-length", "")
        if declared.isdigit():
            if int(declared) > self.max_body_bytes:
                return await self.too_large(scope, receive, send)
            return await self.app(scope, receive, send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return await self.too_large(scope, receive, send)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        return await self.app(scope, replay(messages, receive), send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await refuse(
            scope,
            receive,
            send,
            413,
            f"the request body is larger than {self.max_body_bytes:,} bytes",
            code="request_too_large",
        )


def authorized(header: str, api_key: str) -> bool:
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str, code: str) -> None:
    await JSONResponse(error_body(message, code=code), status_code=status)(scope, receive, send)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out the messages already read, then the connection's own."""
    pending = list(messages)

    async def next_message() -> Message:
        return pending.pop(0) if pending else await receive()

    return next_message


def check_exposure(host: str, api_key: str | None, insecure: bool) -> None:
    """Refuse to serve beyond this machine without an API key, unless asked to (``--insecure``)."""
    if api_key or insecure or is_loopback(host):
        return
    raise ValueError(
        f"refusing to listen on {host} without an API key: anyone who can reach it could use the "
        "server. Pass --api-key (or set E5_API_KEY), or --insecure to serve without one"
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def validate_inputs(texts: list[str], body: EmbeddingRequest, encoder: Encoder, limits: Limits) -> None:
    if body.encoding_format not in ("float", "base64"):
        raise APIError(400, "encoding_format must be 'float' or 'base64'", param="encoding_format")
    if not texts:
        raise APIError(400, "'input' must not be empty", param="input")
    if not all(isinstance(text, str) for text in texts):
        raise APIError(
            400,
            "token-id arrays are not supported by this server (its tokenizer is not OpenAI's); "
            "send the texts as strings",
            param="input",
        )
    if len(texts) > limits.max_inputs:
        raise APIError(400, f"too many inputs: {len(texts)} > {limits.max_inputs}", param="input")
    try:
        check_texts(texts)
    except (TypeError, ValueError) as err:
        raise APIError(400, f"invalid 'input': {err}", param="input") from None
    longest = max(len(t) for t in texts)
    if longest > limits.max_chars_per_input:
        raise APIError(
            413,
            f"an input has {longest} characters; the limit is {limits.max_chars_per_input}",
            param="input",
            code="input_too_long",
        )
    if body.dimensions and body.dimensions > encoder.dim:
        raise APIError(
            400, f"dimensions={body.dimensions} exceeds the model's {encoder.dim}", param="dimensions"
        )


def serialise(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """A list of floats, or (what the ``openai`` client asks for) base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()


def count_tokens(encoder: Encoder, texts: list[str]) -> int:
    counter = getattr(encoder, "count_tokens", None)
    return int(np.sum(counter(texts))) if counter else sum(len(t.split()) for t in texts)
