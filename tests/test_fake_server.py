"""The fake Messages API speaks the wire protocol the SDK expects (checked with raw HTTP here, so
a fake that drifted from the protocol fails even if a client happened to tolerate it)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.fakes.anthropic_server import (
    FakeAnthropic,
    Fault,
    LoopScript,
    Script,
    Turn,
    script_from_json,
    text,
    tool_use,
)

ROOT = Path(__file__).resolve().parent.parent


def post(url: str, path: str, body: Any) -> tuple[int, dict[str, str], bytes]:
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
    try:
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in raw.decode().split("\n\n"):
        if not chunk.strip():
            continue
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def request(n_assistant: int, stream: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for _ in range(n_assistant):
        messages += [
            {"role": "assistant", "content": [text("ok")]},
            {"role": "user", "content": "more"},
        ]
    return {"model": "m", "max_tokens": 10, "messages": messages, "stream": stream}


SCRIPT = [
    Turn.tools(tool_use("bash", {"command": "ls -la /srv"}), text="Looking around."),
    Turn.end("Finished.", cache_read_input_tokens=900),
]


def test_stream_wire_format() -> None:
    with FakeAnthropic(SCRIPT) as fake:
        status, headers, raw = post(fake.url, "/v1/messages", request(0))
    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    assert headers["connection"] == "close"
    events = sse_events(raw)
    names = [name for name, _ in events]
    assert all(name == data["type"] for name, data in events)
    assert names[0] == "message_start" and "ping" in names
    assert names[-2:] == ["message_delta", "message_stop"]
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    text_parts = [d["text"] for d in deltas if d["type"] == "text_delta"]
    json_parts = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len(text_parts) >= 2 and "".join(text_parts) == "Looking around."
    assert len(json_parts) >= 2 and json.loads("".join(json_parts)) == {"command": "ls -la /srv"}
    start = events[0][1]["message"]
    final_delta = events[-2][1]
    assert start["usage"]["output_tokens"] == 1
    assert final_delta["usage"]["output_tokens"] == 50  # cumulative, not an increment
    assert final_delta["delta"]["stop_reason"] == "tool_use"
    blocks = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert blocks[1]["id"] == "toolu_0_1" and blocks[1]["input"] == {}


def test_turn_is_chosen_by_conversation_state_not_order() -> None:
    with FakeAnthropic(SCRIPT) as fake:
        second = json.loads(post(fake.url, "/v1/messages", request(1, stream=False))[2])
        first = json.loads(post(fake.url, "/v1/messages", request(0, stream=False))[2])
        again = json.loads(post(fake.url, "/v1/messages", request(0, stream=False))[2])
        status, headers, raw = post(fake.url, "/v1/messages", request(2, stream=False))
        assert [r.turn for r in fake.message_requests] == [1, 0, 0, 2]
    assert second["content"] == [text("Finished.")]
    assert second["usage"]["cache_read_input_tokens"] == 900
    assert first["content"] == again["content"]
    assert first["stop_reason"] == "tool_use"
    assert status == 500 and headers["x-should-retry"] == "false"
    assert "script ran out" in json.loads(raw)["error"]["message"]


def test_faults_are_consumed_in_order_before_the_good_reply() -> None:
    faults = {0: [Fault.rate_limited(retry_after_ms=5), Fault.error_event(after_events=3)]}
    with FakeAnthropic(SCRIPT, faults=faults) as fake:
        first = post(fake.url, "/v1/messages", request(0))
        second = post(fake.url, "/v1/messages", request(0))
        third = post(fake.url, "/v1/messages", request(0))
    assert first[0] == 429 and first[1]["retry-after-ms"] == "5"
    assert json.loads(first[2])["error"]["type"] == "rate_limit_error"
    events = sse_events(second[2])
    assert [n for n, _ in events][-1] == "error" and len(events) == 4
    assert events[-1][1]["error"]["type"] == "overloaded_error"
    assert sse_events(third[2])[-1][0] == "message_stop"


def test_cut_stream_stops_before_message_stop() -> None:
    with FakeAnthropic(SCRIPT, faults={0: [Fault.cut(after_events=4)]}) as fake:
        raw = post(fake.url, "/v1/messages", request(0))[2]
    assert [n for n, _ in sse_events(raw)] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
    ]


def test_count_tokens_and_caching_switches() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    cached = request(0)
    cached["system"] = [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]
    with FakeAnthropic(SCRIPT) as fake:
        status, _, raw = post(fake.url, "/v1/messages/count_tokens", body)
        assert status == 200 and json.loads(raw)["input_tokens"] == len(json.dumps(body)) // 4
        assert post(fake.url, "/v1/messages", cached)[0] == 200
    with FakeAnthropic(SCRIPT, count_tokens=False, supports_caching=False) as fake:
        status, _, raw = post(fake.url, "/v1/messages/count_tokens", body)
        assert status == 404 and json.loads(raw)["type"] == "error"
        status, _, raw = post(fake.url, "/v1/messages", cached)
        assert status == 400 and "cache_control" in json.loads(raw)["error"]["message"]


def test_scripts_that_repeat() -> None:
    repeat = Script([Turn.end("a"), Turn.end("b")], repeat_last=True)
    assert [repeat(k).content for k in (0, 1, 5)] == [[text("a")], [text("b")], [text("b")]]
    loop = LoopScript(Turn.tools(tool_use("x", {})), until=3, then=Turn.end("done"))
    assert [t.stop_reason if (t := loop(k)) else None for k in range(5)] == [
        "tool_use",
        "tool_use",
        "tool_use",
        "end_turn",
        None,
    ]
    parsed = script_from_json({"loop": {"turn": {"content": [text("x")]}, "until": 2}})
    assert parsed(1) is not None and parsed(2) is None


def test_runs_as_a_script(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": [{"content": [text("hello")]}], "repeat_last": True}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.anthropic_server", "--script", str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        for k in (0, 3):
            reply = json.loads(post(url, "/v1/messages", request(k, stream=False))[2])
            assert reply["content"] == [text("hello")]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
