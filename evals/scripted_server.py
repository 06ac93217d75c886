"""A loopback stand-in for the Anthropic Messages API that speaks the real wire protocol.

It serves scripted turns: `backend-agent eval run --scripted` drives the real runner with it
(each task's reference solution, typed through the editor tool), and the test suite uses it,
through `tests.fakes.anthropic_server`, as its fake model server.

The reply to a request is chosen by conversation state (how many assistant messages the request
carries), not by arrival order, so a script stays correct when the client retries or when a
killed runner resumes. Faults (error statuses, mid-stream error events, cut streams, stalls) are
queued per turn and consumed before that turn's good reply, to exercise a client's retry loop
against real HTTP and a real SDK.

Run as a script for demos and benchmarks:
    python -m evals.scripted_server --script script.json [--port N] [--event-delay S]
It prints the URL on the first stdout line and serves until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

# ---------------------------------------------------------------------------------------------
# Scripts


def text(value: str) -> dict[str, Any]:
    """A text content block."""
    return {"type": "text", "text": value}


def tool_use(name: str, input: Mapping[str, Any], id: str | None = None) -> dict[str, Any]:
    """A tool_use block; without an id the server assigns `toolu_<turn>_<index>` when serving."""
    block: dict[str, Any] = {"type": "tool_use", "name": name, "input": dict(input)}
    if id is not None:
        block["id"] = id
    return block


def thinking(value: str, signature: str = "sig-fake") -> dict[str, Any]:
    """A thinking block; its signature must come back untouched in later requests."""
    return {"type": "thinking", "thinking": value, "signature": signature}


@dataclass
class Turn:
    """One scripted assistant reply. `usage` keys override the defaults (input tokens estimated
    from the request, 50 output tokens, no cache tokens)."""

    content: list[dict[str, Any]]
    stop_reason: str = "end_turn"
    usage: dict[str, int] = field(default_factory=dict)

    @classmethod
    def end(cls, message: str, **usage: int) -> Turn:
        return cls([text(message)], "end_turn", dict(usage))

    @classmethod
    def tools(cls, *tool_uses: dict[str, Any], text: str | None = None, **usage: int) -> Turn:
        blocks = ([{"type": "text", "text": text}] if text else []) + list(tool_uses)
        return cls(blocks, "tool_use", dict(usage))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Turn:
        return cls(
            list(data["content"]), data.get("stop_reason", "end_turn"), dict(data.get("usage", {}))
        )


TurnSource = Callable[[int], "Turn | None"]


class Script:
    """A list of turns, optionally repeating the last one forever (benchmarks want N turns)."""

    def __init__(self, turns: Sequence[Turn], repeat_last: bool = False) -> None:
        self.turns = list(turns)
        self.repeat_last = repeat_last

    def __call__(self, k: int) -> Turn | None:
        if k < len(self.turns):
            return self.turns[k]
        if self.repeat_last and self.turns:
            return self.turns[-1]
        return None

    def __len__(self) -> int:
        return len(self.turns)


class LoopScript:
    """`turn` for k < until, then `then` once (if given), then nothing."""

    def __init__(self, turn: Turn, until: int, then: Turn | None = None) -> None:
        self.turn, self.until, self.then = turn, until, then

    def __call__(self, k: int) -> Turn | None:
        if k < self.until:
            return self.turn
        return self.then if k == self.until else None

    def __len__(self) -> int:
        return self.until + (self.then is not None)


def script_from_json(data: Mapping[str, Any]) -> TurnSource:
    """Either `{"turns": [...], "repeat_last": bool}`
    or `{"loop": {"turn": {...}, "until": N, "then": {...}}}`."""
    if "loop" in data:
        loop = data["loop"]
        then = Turn.from_json(loop["then"]) if loop.get("then") else None
        return LoopScript(Turn.from_json(loop["turn"]), int(loop["until"]), then)
    turns = [Turn.from_json(t) for t in data["turns"]]
    return Script(turns, repeat_last=bool(data.get("repeat_last", False)))


# ---------------------------------------------------------------------------------------------
# Faults

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Fault:
    """A failure served instead of a turn's good reply.

    kind: "status" (an HTTP error), "error_event" (`event: error` after `after_events` events of
    the good reply), "cut" (close after `after_events` events; `chunked` makes the close a
    protocol error instead of a clean EOF), "stall" (send `after_events` events, or nothing when
    `before_headers`, then hang for `seconds` and close).
    """

    kind: str
    status: int = 500
    error_type: str | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    after_events: int = 4
    seconds: float = 5.0
    chunked: bool = False
    before_headers: bool = False

    @classmethod
    def http(
        cls,
        status: int,
        error_type: str | None = None,
        message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        return cls("status", status, error_type, message, dict(headers or {}))

    @classmethod
    def rate_limited(
        cls, retry_after_ms: int | None = None, retry_after: float | None = None
    ) -> Fault:
        headers: dict[str, str] = {}
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        return cls.http(429, headers=headers)

    @classmethod
    def overloaded(cls) -> Fault:
        return cls.http(529)

    @classmethod
    def server_error(cls) -> Fault:
        return cls.http(500)

    @classmethod
    def error_event(cls, error_type: str = "overloaded_error", after_events: int = 4) -> Fault:
        return cls("error_event", 200, error_type, after_events=after_events)

    @classmethod
    def cut(cls, after_events: int = 4, chunked: bool = False) -> Fault:
        return cls("cut", after_events=after_events, chunked=chunked)

    @classmethod
    def stall(
        cls, seconds: float = 5.0, after_events: int = 1, before_headers: bool = False
    ) -> Fault:
        return cls(
            "stall", after_events=after_events, seconds=seconds, before_headers=before_headers
        )

    def body(self) -> dict[str, Any]:
        kind = self.error_type or _ERROR_TYPES.get(self.status, "api_error")
        message = self.message or {
            "overloaded_error": "Overloaded",
            "rate_limit_error": "Number of requests has exceeded your rate limit",
            "authentication_error": "invalid x-api-key",
        }.get(kind, f"fake {kind}")
        return {"type": "error", "error": {"type": kind, "message": message}}


# ---------------------------------------------------------------------------------------------
# Server


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any
    turn: int | None = None  # k, the number of assistant messages, for /v1/messages


def _split(value: str, parts: int = 3) -> list[str]:
    """At least two pieces, so a client really has to accumulate deltas."""
    size = max(1, math.ceil(len(value) / parts))
    pieces = [value[i : i + size] for i in range(0, len(value), size)]
    while len(pieces) < 2:
        pieces.append("")
    return pieces


def _contains_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_contains_key(v, key) for v in value)
    return False


def _sse(event: Mapping[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class FakeAnthropic:
    """Context manager running the fake on 127.0.0.1 in a background thread; `.url` is the root."""

    def __init__(
        self,
        turns: Sequence[Turn] | TurnSource,
        *,
        faults: Mapping[int, Iterable[Fault]] | None = None,
        count_tokens: bool = True,
        supports_caching: bool = True,
        require_api_key: str | None = None,
        event_delay: float = 0.0,
        port: int = 0,
    ) -> None:
        self.turn_for: TurnSource = Script(turns) if isinstance(turns, Sequence) else turns
        self._faults = {k: list(v) for k, v in (faults or {}).items()}
        self.count_tokens = count_tokens
        self.supports_caching = supports_caching
        self.require_api_key = require_api_key
        self.event_delay = event_delay
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakeAnthropic:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases stalls
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- recording and faults

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/messages"]

    def add_faults(self, k: int, *faults: Fault) -> None:
        with self._lock:
            self._faults.setdefault(k, []).extend(faults)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_fault(self, k: int) -> Fault | None:
        with self._lock:
            queue = self._faults.get(k)
            return queue.pop(0) if queue else None

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    # -- replies

    def message(self, turn: Turn, k: int, request: Mapping[str, Any], raw_len: int) -> dict:
        """The full Message a turn stands for, with ids assigned and usage filled in."""
        content = []
        for i, block in enumerate(turn.content):
            block = dict(block)
            if block.get("type") == "tool_use" and "id" not in block:
                block["id"] = f"toolu_{k}_{i}"
            content.append(block)
        usage = {
            "input_tokens": max(1, raw_len // 4),
            "output_tokens": 50,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            **turn.usage,
        }
        return {
            "id": f"msg_{k}_{self._next_id()}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model", "fake"),
            "content": content,
            "stop_reason": turn.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    @staticmethod
    def events(message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The SSE events that stream `message`, text and tool input split into several deltas."""
        usage = message["usage"]
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        events: list[dict[str, Any]] = [
            {"type": "message_start", "message": start},
            {"type": "ping"},
        ]
        for i, block in enumerate(message["content"]):
            kind = block.get("type")
            deltas: list[dict[str, Any]] = []
            if kind == "text":
                first = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": t} for t in _split(block["text"])]
            elif kind == "tool_use":
                first = {**block, "input": {}}
                raw = json.dumps(block["input"])
                deltas = [{"type": "input_json_delta", "partial_json": p} for p in _split(raw)]
            elif kind == "thinking":
                first = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [
                    {"type": "thinking_delta", "thinking": t} for t in _split(block["thinking"])
                ]
                deltas.append({"type": "signature_delta", "signature": block["signature"]})
            else:
                first = dict(block)
            events.append({"type": "content_block_start", "index": i, "content_block": first})
            events += [{"type": "content_block_delta", "index": i, "delta": d} for d in deltas]
            events.append({"type": "content_block_stop", "index": i})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": usage,
            }
        )
        events.append({"type": "message_stop"})
        return events


def _make_handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        # -- plumbing

        def _send_json(
            self, status: int, body: Any, headers: Mapping[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_{fake._next_id()}")
            self.send_header("connection", "close")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def _error(
            self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
        ) -> None:
            body = {"type": "error", "error": {"type": kind, "message": message}}
            self._send_json(status, body, headers)

        def _start_sse(self, chunked: bool = False) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("request-id", f"req_{fake._next_id()}")
            self.send_header("connection", "close")
            if chunked:
                self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.close_connection = True

        def _write(self, data: bytes, chunked: bool = False) -> None:
            if chunked:
                data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
            self.wfile.write(data)
            self.wfile.flush()

        def _write_events(self, events: list[dict[str, Any]], chunked: bool = False) -> None:
            if not events:
                return
            if fake.event_delay <= 0:
                self._write(b"".join(_sse(e) for e in events), chunked)
                return
            for event in events:
                self._write(_sse(event), chunked)
                fake._stopping.wait(fake.event_delay)

        # -- routes

        def do_GET(self) -> None:
            self._error(404, "not_found_error", f"no route GET {self.path}")

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._record(path, None, None)
                self._error(400, "invalid_request_error", "request body is not JSON")
                return
            k = None
            if path == "/v1/messages":
                messages = body.get("messages") or []
                k = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
            self._record(path, body, k)
            if fake.require_api_key is not None and not self._authorized():
                self._error(401, "authentication_error", "invalid x-api-key")
            elif path == "/v1/messages/count_tokens":
                if fake.count_tokens:
                    self._send_json(200, {"input_tokens": max(1, len(raw) // 4)})
                else:
                    self._error(404, "not_found_error", "404 page not found")
            elif path == "/v1/messages":
                assert k is not None
                self._messages(body, k, len(raw))
            else:
                self._error(404, "not_found_error", f"no route POST {path}")

        def _record(self, path: str, body: Any, k: int | None) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            fake._record(RecordedRequest(path, headers, body, k))

        def _authorized(self) -> bool:
            key = fake.require_api_key
            return self.headers.get("authorization") == f"Bearer {key}" or (
                self.headers.get("x-api-key") == key
            )

        def _messages(self, body: dict[str, Any], k: int, raw_len: int) -> None:
            if not fake.supports_caching and _contains_key(body, "cache_control"):
                self._error(
                    400, "invalid_request_error", "cache_control: Extra inputs are not permitted"
                )
                return
            turn = fake.turn_for(k)
            if turn is None:
                self._error(
                    500,
                    "api_error",
                    f"fake server script ran out: no turn {k} (the request has {k} assistant "
                    "messages); add turns to the script",
                    {"x-should-retry": "false"},
                )
                return
            fault = fake._next_fault(k)
            if fault is not None and fault.kind == "status":
                self._send_json(fault.status, fault.body(), fault.headers)
                return
            message = fake.message(turn, k, body, raw_len)
            stream = bool(body.get("stream"))
            if fault is None:
                if stream:
                    self._start_sse()
                    self._write_events(fake.events(message))
                else:
                    self._send_json(200, message)
                return
            self._fault(fault, message, stream)

        def _fault(self, fault: Fault, message: dict[str, Any], stream: bool) -> None:
            if not stream:
                # A JSON reply cannot fail half-way in the same ways; approximate each kind.
                if fault.kind == "stall":
                    fake._stopping.wait(fault.seconds)
                    return
                if fault.kind == "cut":
                    data = json.dumps(message).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self._write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self._send_json(500, fault.body())
                return
            if fault.kind == "stall" and fault.before_headers:
                fake._stopping.wait(fault.seconds)
                self.close_connection = True
                return
            events = fake.events(message)
            prefix = events[: fault.after_events]
            self._start_sse(chunked=fault.chunked)
            self._write_events(prefix, fault.chunked)
            if fault.kind == "error_event":
                self._write(_sse({"type": "error", "error": fault.body()["error"]}), fault.chunked)
            elif fault.kind == "stall":
                fake._stopping.wait(fault.seconds)
            # "cut" (and the end of every fault): close with no further data.

    return Handler


# ---------------------------------------------------------------------------------------------
# Script entry point


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, required=True, help="JSON script of turns")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--event-delay", type=float, default=0.0, help="seconds between events")
    parser.add_argument("--no-count-tokens", action="store_true")
    parser.add_argument("--no-caching", action="store_true")
    args = parser.parse_args(argv)
    source = script_from_json(json.loads(args.script.read_text()))
    fake = FakeAnthropic(
        source,
        count_tokens=not args.no_count_tokens,
        supports_caching=not args.no_caching,
        event_delay=args.event_delay,
        port=args.port,
    )
    with fake:
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
