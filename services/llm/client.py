"""The shared LLM client: any OpenAI-compatible server, JSON replies, our own retries.

Why our own retries: the `openai` client's defaults (600 s timeout, 2 silent
retries) are wrong for a chat bot, and we want to honour Retry-After, count
every attempt and test it. Why a JSON fallback chain: OpenAI accepts a
`json_schema` response format, llama.cpp's server rejects it but takes
`json_object`, some servers take neither; we try them in that order and
remember per server (base URL + model) the first one that worked.

Threading choice: backends call `complete_json` from a worker thread, where no
event loop runs, so each call makes a private loop with `asyncio.run` and a
fresh `AsyncOpenAI` (its HTTP pool belongs to that loop and is closed with it).
Async callers (an image cog, say) use `acomplete_json` directly.

The API key is never logged: it lives in a field excluded from repr, and log
lines name only the server, the model and the response mode.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from services.errors import UserError
from services.redaction import Redactor
from services.settings import Settings

log = logging.getLogger(__name__)

ResponseMode = Literal["json_schema", "json_object", "text"]
MODES: tuple[ResponseMode, ...] = ("json_schema", "json_object", "text")

# What `/music backends` and the backends' available() say when no server is set (notes, code).
NOT_CONFIGURED = (
    "no LLM configured: the operator sets OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
    "OpenAI-compatible server (Ollama, vLLM, llama.cpp)"
)
HOW_TO_CONFIGURE = (
    "set OPENAI_API_KEY (OpenAI), or OPENAI_BASE_URL for a local OpenAI-compatible server such as "
    "Ollama (http://localhost:11434/v1), vLLM or llama.cpp (no key needed then); LLM_MODEL picks the model"
)


class LLMError(UserError):
    """The language model could not give a usable answer; the message says why in plain words."""


class LLMNotConfigured(LLMError):
    """No server to talk to: neither a key nor a base URL is set."""

    def __init__(self) -> None:
        super().__init__(f"no LLM configured: {HOW_TO_CONFIGURE}")


class TokenBudgetExceeded(LLMError):
    """A job spent all the tokens it was allowed across its requests."""


@dataclass(frozen=True)
class LLMConfig:
    """Where the model is and how patiently to talk to it."""

    base_url: str | None  # OPENAI_BASE_URL; None: OpenAI's own API
    api_key: str | None = field(default=None, repr=False)  # OPENAI_API_KEY; never printed or logged
    model: str = "gpt-4o-mini"  # LLM_MODEL
    timeout_s: float = 60.0  # one HTTP request, connect to last byte
    max_retries: int = 3  # extra attempts after a 429, a 5xx, a timeout or a dropped connection
    max_tokens: int = 16_000  # completion tokens per request
    backoff_s: float = 1.0  # first retry delay; doubles each retry
    max_backoff_s: float = 30.0  # cap on any single wait, Retry-After included

    @property
    def configured(self) -> bool:
        """A key (OpenAI) or a base URL (a local server, key optional) is enough to try."""
        return bool((self.api_key or "").strip()) or bool((self.base_url or "").strip())

    @property
    def server(self) -> str:
        """The server's identity for logs and the response-mode memory (never includes the key)."""
        return (self.base_url or "https://api.openai.com/v1").rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig:
        """The shared LLM settings (notes, code; image description swaps in VISION_MODEL)."""
        key = settings.openai_api_key
        return cls(
            base_url=settings.openai_base_url,
            api_key=(key.get_secret_value() if key is not None else None) or None,
            model=settings.llm_model,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            max_tokens=settings.llm_max_tokens,
        )


class TokenBudget:
    """Tokens one job may spend across all its requests (first answer plus repair rounds)."""

    def __init__(self, total: int) -> None:
        self.total = total  # tokens allowed, prompt and completion together
        self.used = 0  # tokens spent so far, as the server reported them
        self._lock = threading.Lock()

    @property
    def left(self) -> int:
        return max(0, self.total - self.used)

    def spend(self, tokens: int) -> None:
        with self._lock:
            self.used += max(0, tokens)

    def check(self) -> None:
        """Refuse to start another request once the budget is gone."""
        if self.used >= self.total:
            raise TokenBudgetExceeded(
                f"the language model used its whole token budget ({self.used:,} of {self.total:,} tokens)"
            )


@dataclass(frozen=True)
class LLMReply:
    """One answer: its parsed JSON and how it was obtained."""

    data: Any  # the JSON value the model wrote (strictly parsed)
    text: str  # the raw reply text, for sending back as the assistant turn
    mode: ResponseMode  # which response format the server accepted
    prompt_tokens: int  # as reported by the server (0 when it reports none)
    completion_tokens: int
    attempts: int  # HTTP requests made, retries and format fallbacks included


class ReplyNotJSON(LLMError):
    """The reply held no single, valid JSON object; `text` is what the model sent (for feedback)."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text  # the raw reply, "" when there was none


# --- strict JSON extraction --------------------------------------------------------------------------

_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _strict_loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constants)


def extract_json(text: str) -> Any:
    """The one JSON object in a reply: the whole text, one fenced block, or one object amid prose.

    Strict: NaN/Infinity are refused, and two different objects (the model hedging) are an error
    rather than a guess.
    """
    stripped = text.strip()
    if not stripped:
        raise ReplyNotJSON("the language model sent an empty reply")
    try:
        return _strict_loads(stripped)
    except ValueError:
        pass
    fences = _FENCE_RE.findall(stripped)
    if len(fences) == 1:
        try:
            return _strict_loads(fences[0].strip())
        except ValueError as exc:
            raise ReplyNotJSON(f"the language model's JSON block is not valid JSON: {exc}") from None
    decoder = json.JSONDecoder(parse_constant=_no_constants)
    found: list[Any] = []
    pos = 0
    while (start := stripped.find("{", pos)) != -1:
        try:
            value, end = decoder.raw_decode(stripped, start)
        except ValueError:
            pos = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
        pos = end
    if len(found) == 1:
        return found[0]
    if not found:
        raise ReplyNotJSON("the language model's reply contains no valid JSON object")
    raise ReplyNotJSON(f"the language model's reply contains {len(found)} JSON objects; expected exactly one")


# --- retries -----------------------------------------------------------------------------------------


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a server asked us to wait (retry-after-ms, or Retry-After as seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
            return value if math.isfinite(value) and value >= 0 else None
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


Sleep = Callable[[float], Awaitable[None]]

# What worked, per (server, model): the index into MODES to start from next time.
_mode_memory: dict[tuple[str, str], int] = {}
_memory_lock = threading.Lock()


def remembered_mode(config: LLMConfig) -> ResponseMode:
    """The response mode this client will try first for this server and model."""
    with _memory_lock:
        return MODES[_mode_memory.get((config.server, config.model), 0)]


def forget_modes() -> None:
    """Clear the per-server memory (tests; or after an operator swaps the server behind a URL)."""
    with _memory_lock:
        _mode_memory.clear()


class LLMClient:
    """Chat completions that must come back as one JSON object."""

    def __init__(self, config: LLMConfig, *, sleep: Sleep | None = None) -> None:
        if not config.configured:
            raise LLMNotConfigured()
        self.config = config
        self._sleep: Sleep = sleep or asyncio.sleep

    def complete_json(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        schema: dict[str, Any],
        schema_name: str = "reply",
        budget: TokenBudget | None = None,
    ) -> LLMReply:
        """Blocking form for worker threads: runs the async call on a private event loop."""
        return asyncio.run(
            self.acomplete_json(messages, schema=schema, schema_name=schema_name, budget=budget)
        )

    async def acomplete_json(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        schema: dict[str, Any],
        schema_name: str = "reply",
        budget: TokenBudget | None = None,
    ) -> LLMReply:
        """Ask for a JSON reply, falling back json_schema → json_object → text as the server allows."""
        import openai  # 0.5 s to import: only when a request is really made

        if budget is not None:
            budget.check()
        max_tokens = (
            self.config.max_tokens if budget is None else max(1, min(self.config.max_tokens, budget.left))
        )
        memory_key = (self.config.server, self.config.model)
        with _memory_lock:
            start = _mode_memory.get(memory_key, 0)
        client = openai.AsyncOpenAI(
            api_key=self.config.api_key or "not-needed",  # local servers ignore it; the client insists on one
            base_url=self.config.base_url,
            timeout=self.config.timeout_s,
            max_retries=0,  # ours, below: counted, logged, Retry-After honoured
        )
        attempts = 0
        try:
            for index in range(start, len(MODES)):
                mode = MODES[index]
                try:
                    response, tries = await self._create(
                        client, messages, mode, schema, schema_name, max_tokens
                    )
                except openai.BadRequestError as exc:
                    attempts += 1
                    if mode == "text" or not _about_response_format(exc):
                        self._log_refusal(exc)
                        raise LLMError(_refusal_message(exc, self.config.model)) from None
                    log.info(
                        "LLM %s (%s) refused response mode %s; trying the next",
                        memory_key[0],
                        memory_key[1],
                        mode,
                    )
                    continue
                attempts += tries
                if index != start:
                    with _memory_lock:
                        _mode_memory[memory_key] = index
                return self._reply(response, mode, attempts, budget)
        finally:
            await client.close()
        raise LLMError("the language model server accepted no response format")  # unreachable: text is last

    async def _create(
        self,
        client: Any,
        messages: Sequence[Mapping[str, Any]],
        mode: ResponseMode,
        schema: dict[str, Any],
        schema_name: str,
        max_tokens: int,
    ) -> tuple[Any, int]:
        """One request in one mode, retried on 429, 5xx, timeouts and dropped connections."""
        import openai

        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": 0.7,
        }
        if mode == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": False},
            }
        elif mode == "json_object":
            kwargs["response_format"] = {
                "type": "json_object",
                "schema": schema,
            }  # llama.cpp reads the schema
        tries = 0
        while True:
            tries += 1
            try:
                return await client.chat.completions.create(**kwargs), tries
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
                # APITimeoutError is an APIConnectionError; other 4xx are our fault and not retried.
                if tries > self.config.max_retries:
                    raise LLMError(_give_up_message(exc, tries)) from None
                response = getattr(exc, "response", None)
                asked = retry_after_seconds(response.headers) if response is not None else None
                delay = asked if asked is not None else self.config.backoff_s * 2 ** (tries - 1)
                delay = min(delay, self.config.max_backoff_s)
                log.warning(
                    "LLM %s: %s (attempt %d of %d); retrying in %.1f s",
                    self.config.server,
                    type(exc).__name__,
                    tries,
                    self.config.max_retries + 1,
                    delay,
                )
                await self._sleep(delay)
            except openai.BadRequestError:
                raise  # the caller decides whether a simpler response mode may work
            except openai.APIStatusError as exc:  # 401, 403, 404, 422 …: retrying will not help
                self._log_refusal(exc)
                raise LLMError(_refusal_message(exc, self.config.model)) from None

    def _log_refusal(self, exc: Exception) -> None:
        """The server's own words go to the log only, the key cut out: error bodies can echo it."""
        log.warning(
            "LLM %s (%s) refused the request (HTTP %s): %s",
            self.config.server,
            self.config.model,
            getattr(exc, "status_code", "?"),
            Redactor([self.config.api_key])(_short(exc, 500)),
        )

    def _reply(
        self, response: Any, mode: ResponseMode, attempts: int, budget: TokenBudget | None
    ) -> LLMReply:
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        if budget is not None:
            budget.spend(prompt_tokens + completion_tokens)
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ReplyNotJSON("the language model sent a reply with no choices")
        choice = choices[0]
        text = choice.message.content or ""
        if choice.finish_reason == "length":
            raise ReplyNotJSON(
                f"the language model ran out of tokens mid-reply (limit {self.config.max_tokens:,} tokens)",
                text,
            )
        log.info(
            "LLM %s (%s) replied in mode %s: %d+%d tokens, %d request(s)",
            self.config.server,
            self.config.model,
            mode,
            prompt_tokens,
            completion_tokens,
            attempts,
        )
        try:
            data = extract_json(text)
        except ReplyNotJSON as exc:
            raise ReplyNotJSON(str(exc), text) from None
        return LLMReply(data, text, mode, prompt_tokens, completion_tokens, attempts)


def _about_response_format(exc: Exception) -> bool:
    """Whether a 400 complains about response_format / JSON schema (then a simpler mode may work)."""
    text = str(exc).lower()
    return any(
        word in text for word in ("response_format", "json_schema", "json schema", "json_object", "schema")
    )


# What a user reads for each refusal. Never the server's own text: a 401 body can echo the API key
# ("Incorrect API key provided: sk-…"), and any body can carry what the model or server was told.
_REFUSALS = {
    400: "it refused the request (HTTP 400)",
    401: "it rejected this bot's API key (HTTP 401); the bot's operator should check OPENAI_API_KEY",
    402: "the account has run out of credit (HTTP 402); the bot's operator should check it",
    403: "it refused access (HTTP 403); the bot's operator should check the account's permissions",
    404: "it does not know the model {model}, or the address is wrong (HTTP 404); the bot's operator "
    "should check LLM_MODEL and OPENAI_BASE_URL",
    413: "the request was too large for it (HTTP 413)",
    422: "it could not process the request (HTTP 422)",
}


def _refusal_message(exc: Exception, model: str) -> str:
    """A friendly reason for a refusal, by status code alone."""
    status = getattr(exc, "status_code", None)
    text = _REFUSALS.get(status) if isinstance(status, int) else None
    if text is None:
        text = f"it refused the request (HTTP {status or 'error'})"
    return "the language model server said no: " + text.replace("{model}", model[:60])


def _short(exc: Exception, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _give_up_message(exc: Exception, tries: int) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        what = "did not answer in time"
    elif isinstance(exc, openai.RateLimitError):
        what = "is rate-limiting us (HTTP 429)"
    elif isinstance(exc, openai.APIConnectionError):
        what = "could not be reached"
    else:
        status = getattr(exc, "status_code", "5xx")
        what = f"had an internal error (HTTP {status})"
    return f"the language model server {what}; gave up after {tries} attempt{'s' if tries != 1 else ''}"
