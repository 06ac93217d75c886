"""The model client: one streamed Messages API turn, with retries and prompt caching.

The runner depends only on the `Model` protocol, so it can be driven by any implementation.
`AnthropicModel` owns every policy about talking to the API (what is retried and how long to
wait, cache breakpoints, servers that lack caching or token counting) and turns every failure
into a one-line `ModelError` that says what to fix. The SDK is imported lazily so that the CLI
can start (and print --help) without paying for it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

from agent.errors import AgentError

if TYPE_CHECKING:
    import anthropic

# ---------------------------------------------------------------------------------------------
# Data passed between the client and the runner


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Usage)}
        )

    @property
    def total_input(self) -> int:
        """Every input token the request read: uncached, written to cache and read from it."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(Usage)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        return cls(**{f.name: int(data.get(f.name) or 0) for f in fields(Usage)})


@dataclass
class ModelResponse:
    content: list[dict[str, Any]]  # assistant blocks as plain JSON, ready to append to messages
    stop_reason: str | None
    usage: Usage
    model: str
    request_id: str | None = None
    stop_details: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text")

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]


@dataclass(frozen=True)
class RetryNotice:
    """Told to the UI before each wait: attempt `attempt` of `max_attempts` failed for `reason`
    and the next one starts after `delay` seconds."""

    attempt: int
    max_attempts: int
    delay: float
    reason: str


class ModelError(AgentError):
    """The model could not be reached or refused the request; str() is one actionable line."""

    exit_code = 3

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Model(Protocol):
    name: str

    def complete(
        self,
        *,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
        on_text: Callable[[str], None] | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> ModelResponse: ...

    def count_tokens(
        self,
        *,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
    ) -> int | None: ...


# ---------------------------------------------------------------------------------------------
# Helpers

_CACHE_MARK = {"type": "ephemeral"}
# Fields the API accepts back on input; anything else a server adds to a block is dropped so
# the next request is not rejected for an unknown field.
_BLOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("type", "text"),
    "tool_use": ("type", "id", "name", "input", "caller"),
    "thinking": ("type", "thinking", "signature"),
    "redacted_thinking": ("type", "data"),
}
# Error types that a retry cannot fix, even when they arrive as a mid-stream `error` event.
_FATAL_ERROR_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "billing_error",
}
_RETRYABLE_STATUSES = {408, 409, 429}
NO_KEY = "no API key found: set ANTHROPIC_API_KEY, pass --api-key, or name a server with --base-url"
PLACEHOLDER_KEY = "no-key-needed"  # sent to a server named by --base-url when no key is set
REFUSED_WINDOW = 3.0  # seconds of retrying a refused connection to a server the user named


def _with_cache_breakpoints(
    system: list[dict[str, Any]], messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Copies with breakpoints on the last tool, the last system block and the last block of the
    newest message, so each turn reads everything before it from the cache. Only the touched
    containers are copied: the conversation can be long and this runs every turn."""
    tools = list(tools)
    if tools:
        tools[-1] = {**tools[-1], "cache_control": _CACHE_MARK}
    system = list(system)
    if system and system[-1].get("text"):
        system[-1] = {**system[-1], "cache_control": _CACHE_MARK}
    messages = list(messages)
    if messages:
        last = messages[-1]
        content = last.get("content")
        if isinstance(content, str) and content:
            messages[-1] = {**last, "content": [{"type": "text", "text": content}]}
            messages[-1]["content"][0]["cache_control"] = _CACHE_MARK
        elif isinstance(content, list) and content and _cacheable(content[-1]):
            blocks = list(content)
            blocks[-1] = {**blocks[-1], "cache_control": _CACHE_MARK}
            messages[-1] = {**last, "content": blocks}
    return system, messages, tools


def _cacheable(block: Mapping[str, Any]) -> bool:
    kind = block.get("type")
    if kind in ("thinking", "redacted_thinking"):
        return False
    return not (kind == "text" and not block.get("text"))


def _block_to_param(block: Any) -> dict[str, Any]:
    data: dict[str, Any] = block.model_dump(mode="json", exclude_none=True)
    keep = _BLOCK_FIELDS.get(data.get("type", ""))
    return {k: data[k] for k in keep if k in data} if keep else data


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait in seconds, from retry-after-ms or retry-after."""
    try:
        if value := headers.get("retry-after-ms"):
            return max(0.0, float(value) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _is_connection_refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if (
            isinstance(current, ConnectionRefusedError)
            or "connection refused" in str(current).lower()
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class _StreamProblem(Exception):
    """A reply that arrived but cannot be used (truncated or not a stream)."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass
class _Failure:
    reason: str  # short, for RetryNotice: "529 overloaded_error"
    retryable: bool
    fatal: str = ""  # the ModelError line when not retryable
    detail: str = ""  # the server's message, if any
    status: int | None = None
    retry_after: float | None = None
    connection: bool = False
    refused: bool = False
    cache_rejected: bool = False


# ---------------------------------------------------------------------------------------------
# The Anthropic implementation


class AnthropicModel:
    """`Model` over the official SDK, streaming every turn."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 600,
        max_retries: int = 6,
        caching: bool = True,
        backoff_cap: float = 30.0,
        backoff_base: float = 1.0,
    ) -> None:
        import anthropic
        import httpx2

        self.name = model
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.caching = caching
        self.backoff_cap = backoff_cap
        self.backoff_base = backoff_base
        self.count_tokens_supported = True
        explicit_url = base_url or os.environ.get("ANTHROPIC_BASE_URL")
        # A server the user named is not the real API's fleet: a refusal there means it is
        # not running, and waiting a minute will not change that.
        self.refused_window = REFUSED_WINDOW if explicit_url else None

        def client(key: str | None) -> anthropic.Anthropic:
            try:
                return anthropic.Anthropic(
                    api_key=key,
                    base_url=base_url,
                    max_retries=0,  # one retry policy: ours
                    timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
                )
            except anthropic.AnthropicError as exc:
                message = f"cannot load Anthropic credentials: {_one_line(str(exc))}"
                raise ModelError(message) from exc

        self._client = client(api_key)
        found = self._client
        if found.api_key is None and found.auth_token is None and found.credentials is None:
            if not explicit_url:
                raise ModelError(NO_KEY)
            # Local Anthropic-compatible servers need no key, but the SDK insists on one.
            self._client = client(PLACEHOLDER_KEY)

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    # -- complete

    def complete(
        self,
        *,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
        on_text: Callable[[str], None] | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> ModelResponse:
        max_attempts = self.max_retries + 1
        attempt = 0
        refused_waited = 0.0
        while True:
            attempt += 1
            params = self._params(system, messages, tools, max_tokens)
            try:
                return self._stream_once(params, on_text)
            except Exception as exc:
                failure = self._classify(exc)
                if failure is None:
                    raise
            if failure.cache_rejected and self.caching:
                # A server without prompt caching: drop the breakpoints for the whole session.
                self.caching = False
                attempt -= 1
                if on_retry:
                    reason = "server rejected cache_control; prompt caching turned off"
                    on_retry(RetryNotice(attempt, max_attempts, 0.0, reason))
                continue
            if not failure.retryable:
                raise ModelError(failure.fatal, status=failure.status)
            delay = self._delay(attempt, failure.retry_after)
            window_spent = False
            if failure.refused and self.refused_window is not None:
                window_spent = refused_waited >= self.refused_window
                delay = min(delay, self.refused_window - refused_waited)
                refused_waited += delay
            if attempt >= max_attempts or window_spent:
                raise ModelError(self._exhausted(failure, attempt), status=failure.status)
            if on_retry:
                on_retry(RetryNotice(attempt, max_attempts, delay, failure.reason))
            time.sleep(delay)

    def _params(
        self,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> dict[str, Any]:
        if self.caching:
            system, messages, tools = _with_cache_breakpoints(system, messages, tools)
        params: dict[str, Any] = {
            "model": self.name,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if system:
            params["system"] = system
        if tools:
            params["tools"] = tools
        return params

    def _stream_once(
        self, params: dict[str, Any], on_text: Callable[[str], None] | None
    ) -> ModelResponse:
        started = False
        with self._client.messages.stream(**params) as stream:
            content_type = stream.response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                raise _StreamProblem(
                    f"the server answered a streaming request with {content_type or 'no'} "
                    "content type; it does not support streaming",
                    retryable=False,
                )
            for event in stream:
                if event.type == "message_start":
                    started = True
                elif event.type == "text" and on_text is not None:
                    on_text(event.text)
            if not started:
                raise _StreamProblem("stream ended before message_start", retryable=True)
            final = stream.get_final_message()
            request_id = stream.request_id
        if final.stop_reason is None:
            raise _StreamProblem("stream ended without message_stop", retryable=True)
        usage = final.usage
        return ModelResponse(
            content=[_block_to_param(b) for b in final.content],
            stop_reason=final.stop_reason,
            usage=Usage(
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
                cache_read_input_tokens=usage.cache_read_input_tokens or 0,
            ),
            model=final.model or self.name,
            request_id=request_id,
            stop_details=(
                final.stop_details.model_dump(mode="json", exclude_none=True)
                if final.stop_details is not None
                else None
            ),
        )

    def _classify(self, exc: Exception) -> _Failure | None:
        """What went wrong, and whether another attempt may help; None for our own bugs."""
        import anthropic
        import httpx2

        if isinstance(exc, _StreamProblem):
            return _Failure(exc.reason, exc.retryable, fatal=exc.reason)
        if isinstance(exc, anthropic.APIStatusError):
            return self._classify_status(exc)
        if isinstance(exc, anthropic.APITimeoutError):
            return _Failure(f"request timed out after {self.timeout:g}s", True, connection=True)
        if isinstance(exc, anthropic.APIConnectionError):
            if _is_connection_refused(exc):
                return _Failure("connection refused", True, connection=True, refused=True)
            cause = exc.__cause__ or exc
            return _Failure(f"connection error: {_one_line(str(cause))}", True, connection=True)
        if isinstance(exc, httpx2.TimeoutException):
            return _Failure(f"no data for {self.timeout:g}s (server stalled)", True)
        if isinstance(exc, httpx2.HTTPError):
            return _Failure(f"connection dropped mid-stream ({_one_line(str(exc), 120)})", True)
        if isinstance(exc, ValueError) and str(exc).startswith("Unable to parse tool parameter"):
            return _Failure("the stream carried invalid tool input JSON", True)
        if isinstance(exc, TypeError) and "authentication method" in str(exc):
            return _Failure(
                "no credential",
                False,
                fatal=NO_KEY,
            )
        return None

    def _classify_status(self, exc: anthropic.APIStatusError) -> _Failure:
        status = exc.status_code
        kind = exc.type or ""
        detail = _one_line(exc.api_message or str(exc.body or exc.message))
        if status == 200:  # an `event: error` inside a stream that started fine
            reason = f"{kind or 'error'} event mid-stream"
            fatal = f"model stream failed ({kind or 'error'}): {detail}"
            return _Failure(reason, kind not in _FATAL_ERROR_TYPES, fatal, detail, status)
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        should_retry = exc.response.headers.get("x-should-retry")
        if should_retry in ("true", "false"):
            retryable = should_retry == "true"
        label = f"{status} {kind}".strip()
        if status == 401:
            fatal = (
                f"authentication failed (401): {detail}; set ANTHROPIC_API_KEY or pass --api-key"
            )
        elif status == 403:
            fatal = f"permission denied (403): {detail}; check the API key's access to {self.name}"
        elif status == 404:
            fatal = f"not found (404): {detail}; check --model and --base-url"
        elif status == 413:
            fatal = f"request too large (413): {detail}"
        else:
            fatal = f"model request failed ({label}): {detail}"
        return _Failure(
            label,
            retryable,
            fatal,
            detail,
            status,
            retry_after=_retry_after(exc.response.headers),
            cache_rejected=status == 400 and "cache_control" in detail,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_cap)
        base = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return base * random.uniform(0.75, 1.0)

    def _exhausted(self, failure: _Failure, attempts: int) -> str:
        if failure.refused:
            return (
                f"cannot reach {self.base_url}: connection refused "
                "(is the server running? check --base-url)"
            )
        if failure.connection:
            return (
                f"cannot reach {self.base_url}: {failure.reason} (check --base-url and the network)"
            )
        detail = f": {failure.detail}" if failure.detail else ""
        return f"model request failed after {attempts} attempts: {failure.reason}{detail}"

    # -- count_tokens

    def count_tokens(
        self,
        *,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
    ) -> int | None:
        """Exact input size from the server, or None when it cannot say (then the caller
        estimates). A server without the endpoint is not asked again."""
        import anthropic
        import httpx2

        if not self.count_tokens_supported:
            return None
        params: dict[str, Any] = {"model": self.name, "messages": messages}
        if system:
            params["system"] = system
        if tools:
            params["tools"] = tools
        try:
            return int(self._client.messages.count_tokens(**params).input_tokens)
        except anthropic.APIStatusError as exc:
            if exc.status_code in (404, 405, 501):
                self.count_tokens_supported = False
            return None
        except (anthropic.APIError, httpx2.HTTPError):
            return None
