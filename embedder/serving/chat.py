"""``POST /v1/chat/completions`` for ``e5 serve``: a local transformers causal LM behind OpenAI's chat API.

The default is the packaged SmolLM2-135M-Instruct, so synthetic-data generation runs with no network.
With ``response_format={"type": "json_object"}`` the assistant turn is primed with ``{`` (a cheap
nudge, not constrained decoding): small models then start a JSON object far more often.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import torch
from fastapi import FastAPI
from pydantic import BaseModel, Field

from ..loading import DEFAULT_MODEL_NAME, pick_device, resolve_model
from .server import APIError, Text, check_model

DEFAULT_MAX_TOKENS = 512


class ChatMessage(BaseModel):
    role: str
    content: Text


class ChatRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = None
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int = 1
    stream: bool = False
    seed: int | None = None
    response_format: dict | None = None


class ChatModel:
    """A causal LM loaded on first use; one generation at a time (few cores, not re-entrant)."""

    def __init__(self, spec: str | None):
        self.spec = spec
        self.name = DEFAULT_MODEL_NAME if spec is None else Path(spec).name or spec
        self.names = {self.name, spec or "default"}  # what a request's ``model`` may say
        self._lock = threading.Lock()
        self._model = self._tokenizer = None

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = resolve_model(self.spec)
        device = pick_device("auto")
        dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        self._model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device).eval()

    def generate(self, body: ChatRequest) -> dict:
        """Completion text, finish reason and token counts for one request."""
        with self._lock:
            if self._model is None:
                self._load()
            prompt = self._prompt(body)
            max_new = body.max_completion_tokens or body.max_tokens or DEFAULT_MAX_TOKENS
            context = getattr(self._model.config, "max_position_embeddings", None)
            if context and prompt.shape[1] + max_new > context:
                raise APIError(
                    400,
                    f"prompt ({prompt.shape[1]} tokens) + max_tokens ({max_new}) exceeds the "
                    f"model's context of {context}",
                    param="max_tokens",
                )
            if body.seed is not None:
                torch.manual_seed(body.seed)
            sampling = {"do_sample": True, "temperature": body.temperature, "top_p": body.top_p}
            with torch.inference_mode():
                output = self._model.generate(
                    prompt.to(self._model.device),
                    attention_mask=torch.ones_like(prompt).to(self._model.device),
                    max_new_tokens=max_new,
                    pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
                    **(sampling if body.temperature > 0 else {"do_sample": False}),
                )
        new = output[0, prompt.shape[1] :].tolist()
        stopped = bool(new) and new[-1] == self._tokenizer.eos_token_id
        text = self._tokenizer.decode(new, skip_special_tokens=True)
        return {
            "text": ("{" if json_mode(body) else "") + text,
            "prompt_tokens": prompt.shape[1],
            "completion_tokens": len(new),
            "finish_reason": "stop" if stopped or len(new) < max_new else "length",
        }

    def _prompt(self, body: ChatRequest) -> torch.Tensor:
        messages = [m.model_dump() for m in body.messages]
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if json_mode(body):
            text += "{"
        return self._tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids


def json_mode(body: ChatRequest) -> bool:
    return (body.response_format or {}).get("type") in {"json_object", "json_schema"}


def add_chat_routes(app: FastAPI, chat_model: str | None) -> None:
    """Add ``POST /v1/chat/completions`` served by ``chat_model`` (None: the packaged SmolLM2)."""
    model = ChatModel(chat_model)
    app.state.models.append(model.name)

    @app.post("/v1/chat/completions")
    def chat_completions(body: ChatRequest):
        check_model(body.model, model.names)
        if body.stream:
            raise APIError(400, "streaming is not supported by this server", param="stream")
        if body.n != 1:
            raise APIError(400, "only n=1 is supported", param="n")
        result = model.generate(body)
        usage = {
            "prompt_tokens": result["prompt_tokens"],
            "completion_tokens": result["completion_tokens"],
            "total_tokens": result["prompt_tokens"] + result["completion_tokens"],
        }
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.name,
            "usage": usage,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": result["finish_reason"],
                    "message": {"role": "assistant", "content": result["text"]},
                }
            ],
        }
