"""The model client against the real SDK and a real loopback fake of the Messages API."""

from __future__ import annotations

import copy
import json
import os
import socket
from typing import Any

import pytest

from agent.model import AnthropicModel, ModelError, ModelResponse, RetryNotice, Usage
from agent.pricing import cost_usd, price_for, worst_case_cost
from tests.fakes.anthropic_server import FakeAnthropic, Fault, Turn, thinking, tool_use

MODEL = "claude-sonnet-4-6"
SYSTEM = [{"type": "text", "text": "You are a backend agent."}]
TOOLS = [
    {"name": "bash", "description": "Run", "input_schema": {"type": "object", "properties": {}}},
    {"name": "edit", "description": "Edit", "input_schema": {"type": "object", "properties": {}}},
]
USER = [{"role": "user", "content": "add books resource"}]


@pytest.fixture(autouse=True)
def _no_anthropic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in list(os.environ):
        if name.startswith("ANTHROPIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no credential profile on disk either


def make_model(url: str, **kwargs: Any) -> AnthropicModel:
    options: dict[str, Any] = {"timeout": 5.0, "backoff_base": 0.001, "backoff_cap": 0.02}
    options.update(kwargs)
    return AnthropicModel(MODEL, api_key="test", base_url=url, **options)


def complete(model: AnthropicModel, messages: list[dict[str, Any]] | None = None, **kw: Any):
    return model.complete(
        system=SYSTEM, messages=messages or USER, tools=TOOLS, max_tokens=1000, **kw
    )


def count_cache_marks(value: Any) -> int:
    if isinstance(value, dict):
        return ("cache_control" in value) + sum(count_cache_marks(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_cache_marks(v) for v in value)
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_turns() -> list[Turn]:
    return [
        Turn.tools(tool_use("bash", {"command": "pytest -q tests/"}), text="Running the tests."),
        Turn.end("All green, done."),
    ]


# ---------------------------------------------------------------------------------------------
# Happy path


def test_streams_text_in_pieces_and_returns_plain_blocks(two_turns: list[Turn]) -> None:
    pieces: list[str] = []
    with FakeAnthropic(two_turns) as fake:
        model = make_model(fake.url)
        response = complete(model, on_text=pieces.append)
        assert len(pieces) >= 2
        assert "".join(pieces) == "Running the tests."
        assert response.stop_reason == "tool_use"
        assert response.content == [
            {"type": "text", "text": "Running the tests."},
            {
                "type": "tool_use",
                "id": "toolu_0_1",
                "name": "bash",
                "input": {"command": "pytest -q tests/"},
            },
        ]
        assert response.request_id and response.request_id.startswith("req_")
        assert response.model == MODEL
        json.dumps(response.content)  # plain JSON, storable in a transcript

        # The blocks go straight back into the conversation and the server takes them.
        messages = [
            *USER,
            {"role": "assistant", "content": response.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_0_1", "content": "ok"}],
            },
        ]
        second = complete(model, messages)
        assert second.stop_reason == "end_turn"
        assert second.text == "All green, done."
        sent = fake.message_requests[-1]
        assert sent.turn == 1
        assert sent.body["stream"] is True
        assert sent.headers["authorization"] == "Bearer test"
        assert sent.body["messages"][1]["content"] == response.content


def test_usage_including_cache_fields_is_parsed() -> None:
    turn = Turn.end(
        "ok",
        input_tokens=12,
        output_tokens=34,
        cache_creation_input_tokens=560,
        cache_read_input_tokens=7800,
    )
    with FakeAnthropic([turn]) as fake:
        response = complete(make_model(fake.url))
    assert response.usage == Usage(12, 34, 560, 7800)
    assert response.usage.total_input == 12 + 560 + 7800


def test_thinking_signature_is_kept_intact() -> None:
    turns = [Turn([thinking("Let me look at the models.", "sig/abc+=="), tool_use("bash", {})])]
    turns[0].stop_reason = "tool_use"
    with FakeAnthropic(turns) as fake:
        response = complete(make_model(fake.url))
    assert response.content[0] == {
        "type": "thinking",
        "thinking": "Let me look at the models.",
        "signature": "sig/abc+==",
    }


# ---------------------------------------------------------------------------------------------
# Retries


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault.rate_limited(retry_after_ms=60), "429 rate_limit_error"),
        (Fault.overloaded(), "529 overloaded_error"),
        (Fault.server_error(), "500 api_error"),
        (Fault.http(503, "api_error", headers={"x-should-retry": "true"}), "503 api_error"),
        (Fault.error_event("overloaded_error"), "overloaded_error event mid-stream"),
        (Fault.cut(after_events=5), "stream ended without message_stop"),
        (Fault.cut(after_events=0), "stream ended before message_start"),
        (Fault.cut(after_events=5, chunked=True), "connection dropped mid-stream"),
        (Fault.stall(seconds=3, after_events=3), "server stalled"),
        (Fault.stall(seconds=3, before_headers=True), "request timed out"),
    ],
    ids=lambda v: v.kind + str(v.status) if isinstance(v, Fault) else None,
)
def test_each_fault_is_retried_then_succeeds(
    fault: Fault, reason: str, two_turns: list[Turn]
) -> None:
    notices: list[RetryNotice] = []
    pieces: list[str] = []
    with FakeAnthropic(two_turns, faults={0: [fault]}) as fake:
        model = make_model(fake.url, timeout=0.5)
        response = complete(model, on_retry=notices.append, on_text=pieces.append)
        assert len(fake.message_requests) == 2
    assert response.stop_reason == "tool_use"
    assert response.content[1]["input"] == {"command": "pytest -q tests/"}
    assert len(notices) == 1
    assert reason in notices[0].reason
    assert (notices[0].attempt, notices[0].max_attempts) == (1, 7)
    # The last attempt streamed the whole text (a failed one may have streamed part of it).
    assert "".join(pieces).endswith("Running the tests.")


def test_retry_after_ms_is_honoured_and_retry_after_is_capped(two_turns: list[Turn]) -> None:
    faults = {0: [Fault.rate_limited(retry_after_ms=150), Fault.rate_limited(retry_after=120)]}
    notices: list[RetryNotice] = []
    with FakeAnthropic(two_turns, faults=faults) as fake:
        complete(make_model(fake.url, backoff_cap=0.3), on_retry=notices.append)
    assert [n.delay for n in notices] == [0.15, 0.3]


def test_backoff_grows_and_is_capped(two_turns: list[Turn]) -> None:
    notices: list[RetryNotice] = []
    with FakeAnthropic(two_turns, faults={0: [Fault.overloaded()] * 5}) as fake:
        model = make_model(fake.url, backoff_base=0.004, backoff_cap=0.02)
        complete(model, on_retry=notices.append)
    delays = [n.delay for n in notices]
    assert 0.003 <= delays[0] <= 0.004
    assert 0.006 <= delays[1] <= 0.008
    assert all(d <= 0.02 for d in delays)
    assert delays[4] >= 0.015


def test_more_faults_than_retries_raises_model_error(two_turns: list[Turn]) -> None:
    notices: list[RetryNotice] = []
    with FakeAnthropic(two_turns, faults={0: [Fault.overloaded()] * 3}) as fake:
        model = make_model(fake.url, max_retries=2)
        with pytest.raises(ModelError) as info:
            complete(model, on_retry=notices.append)
        assert len(fake.message_requests) == 3
    message = str(info.value)
    assert "after 3 attempts" in message and "529 overloaded_error" in message
    assert "\n" not in message
    assert info.value.exit_code == 3
    assert [n.attempt for n in notices] == [1, 2]


def test_stall_that_outlasts_retries_names_the_stall(two_turns: list[Turn]) -> None:
    faults = {0: [Fault.stall(seconds=3)] * 2}
    with FakeAnthropic(two_turns, faults=faults) as fake, pytest.raises(ModelError, match="stall"):
        complete(make_model(fake.url, timeout=0.3, max_retries=1))


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            Fault.http(401),
            r"authentication failed \(401\): invalid x-api-key; set ANTHROPIC_API_KEY",
        ),
        (Fault.http(400, message="messages.0: bad block"), r"\(400 invalid_request_error\).*bad"),
        (Fault.http(403), r"permission denied \(403\)"),
        (Fault.http(404, message="model: nope"), r"not found \(404\): model: nope; check --model"),
        (Fault.http(413), r"request too large \(413\)"),
        (Fault.http(500, headers={"x-should-retry": "false"}), r"500 api_error"),
        (Fault.error_event("invalid_request_error"), r"stream failed \(invalid_request_error\)"),
    ],
    ids=["401", "400", "403", "404", "413", "500-no-retry", "fatal-event"],
)
def test_client_errors_are_not_retried(fault: Fault, expected: str, two_turns: list[Turn]) -> None:
    notices: list[RetryNotice] = []
    with FakeAnthropic(two_turns, faults={0: [fault]}) as fake:
        with pytest.raises(ModelError, match=expected):
            complete(make_model(fake.url), on_retry=notices.append)
        assert len(fake.message_requests) == 1
    assert notices == []


def test_wrong_api_key_is_a_clear_error(two_turns: list[Turn]) -> None:
    fake = FakeAnthropic(two_turns, require_api_key="the-right-key")
    with fake, pytest.raises(ModelError, match="authentication failed") as info:
        complete(make_model(fake.url))
    assert info.value.status == 401


def test_script_running_out_fails_at_once() -> None:
    with FakeAnthropic([]) as fake:
        with pytest.raises(ModelError, match="script ran out"):
            complete(make_model(fake.url))
        assert len(fake.message_requests) == 1


def test_connection_refused_after_retries() -> None:
    port = free_port()
    notices: list[RetryNotice] = []
    model = make_model(f"http://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(ModelError) as info:
        complete(model, on_retry=notices.append)
    assert str(info.value) == (
        f"cannot reach http://127.0.0.1:{port}: connection refused "
        "(is the server running? check --base-url)"
    )
    assert [n.reason for n in notices] == ["connection refused"] * 2


def test_connection_refused_recovers_when_the_server_comes_up(two_turns: list[Turn]) -> None:
    port = free_port()
    fake = FakeAnthropic(two_turns, port=port)
    notices: list[RetryNotice] = []

    def start_server(notice: RetryNotice) -> None:
        notices.append(notice)
        if len(notices) == 1:
            fake.start()

    try:
        response = complete(make_model(f"http://127.0.0.1:{port}"), on_retry=start_server)
    finally:
        fake.stop()
    assert response.stop_reason == "tool_use"
    assert len(notices) == 1 and notices[0].reason == "connection refused"


def test_no_credential_and_no_server_named_is_a_model_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ModelError, match=r"ANTHROPIC_API_KEY|credentials"):
        AnthropicModel(MODEL)


def test_a_named_server_without_a_key_gets_a_placeholder(
    monkeypatch: pytest.MonkeyPatch, two_turns: list[Turn]
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with FakeAnthropic(two_turns) as fake:
        complete(AnthropicModel(MODEL, base_url=fake.url))
        assert fake.message_requests[0].headers["authorization"] == "Bearer no-key-needed"


def test_refused_connections_to_a_named_server_give_up_within_seconds() -> None:
    port = free_port()
    notices: list[RetryNotice] = []
    with pytest.raises(ModelError, match="connection refused"):
        model = make_model(
            f"http://127.0.0.1:{port}", max_retries=6, backoff_base=1.0, backoff_cap=30.0
        )
        complete(model, on_retry=notices.append)
    assert notices and sum(n.delay for n in notices) <= 3.0
    assert len(notices) < 6, "not the full retry policy of the real API"


def test_api_key_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, two_turns: list[Turn]
) -> None:
    with FakeAnthropic(two_turns) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        complete(AnthropicModel(MODEL))
        assert fake.message_requests[0].headers["authorization"] == "Bearer from-env"


# ---------------------------------------------------------------------------------------------
# Prompt caching


def test_three_cache_breakpoints_and_inputs_not_mutated(two_turns: list[Turn]) -> None:
    system = [{"type": "text", "text": "Spec part one."}, {"type": "text", "text": "Part two."}]
    tools = copy.deepcopy(TOOLS)
    messages = [
        {"role": "user", "content": "add books"},
        {"role": "assistant", "content": [tool_use("bash", {"command": "ls"}, id="toolu_a")]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "app"},
                {"type": "text", "text": "Keep going."},
            ],
        },
    ]
    before = copy.deepcopy((system, tools, messages))
    with FakeAnthropic(two_turns) as fake:
        make_model(fake.url).complete(system=system, messages=messages, tools=tools, max_tokens=64)
        body = fake.message_requests[0].body
    assert (system, tools, messages) == before
    mark = {"type": "ephemeral"}
    assert body["tools"][-1]["cache_control"] == mark
    assert body["system"][-1]["cache_control"] == mark
    assert body["messages"][-1]["content"][-1]["cache_control"] == mark
    assert count_cache_marks(body) == 3


def test_string_content_becomes_a_cached_text_block(two_turns: list[Turn]) -> None:
    messages = copy.deepcopy(USER)
    with FakeAnthropic(two_turns) as fake:
        complete(make_model(fake.url), messages)
        body = fake.message_requests[0].body
    assert body["messages"][-1]["content"] == [
        {"type": "text", "text": "add books resource", "cache_control": {"type": "ephemeral"}}
    ]
    assert messages == USER


def test_server_without_caching_turns_caching_off_once(two_turns: list[Turn]) -> None:
    notices: list[RetryNotice] = []
    with FakeAnthropic(two_turns, supports_caching=False) as fake:
        model = make_model(fake.url)
        first = complete(model, on_retry=notices.append)
        complete(model, [*USER, {"role": "assistant", "content": first.content}, *USER])
        bodies = [r.body for r in fake.message_requests]
    assert first.stop_reason == "tool_use"
    assert [count_cache_marks(b) for b in bodies] == [3, 0, 0]
    assert model.caching is False
    assert len(notices) == 1 and "prompt caching turned off" in notices[0].reason


def test_caching_can_be_turned_off(two_turns: list[Turn]) -> None:
    with FakeAnthropic(two_turns) as fake:
        complete(make_model(fake.url, caching=False))
        assert count_cache_marks(fake.message_requests[0].body) == 0


# ---------------------------------------------------------------------------------------------
# count_tokens


def test_count_tokens(two_turns: list[Turn]) -> None:
    with FakeAnthropic(two_turns) as fake:
        model = make_model(fake.url)
        n = model.count_tokens(system=SYSTEM, messages=USER, tools=TOOLS)
        recorded = fake.requests[-1]
        longer = [{"role": "user", "content": "add books resource " * 100}]
        m = model.count_tokens(system=SYSTEM, messages=longer, tools=TOOLS)
    assert recorded.path == "/v1/messages/count_tokens"
    assert recorded.body["tools"] == TOOLS and recorded.body["model"] == MODEL
    assert isinstance(n, int) and n > 10
    assert m is not None and m > n + 400


def test_count_tokens_missing_endpoint_returns_none_and_is_not_asked_again(
    two_turns: list[Turn],
) -> None:
    with FakeAnthropic(two_turns, count_tokens=False) as fake:
        model = make_model(fake.url)
        assert model.count_tokens(system=SYSTEM, messages=USER, tools=TOOLS) is None
        assert model.count_tokens(system=SYSTEM, messages=USER, tools=TOOLS) is None
        assert len(fake.requests) == 1
        assert complete(model).stop_reason == "tool_use"  # the rest still works


# ---------------------------------------------------------------------------------------------
# Usage and pricing


def test_usage_arithmetic_and_round_trip() -> None:
    total = Usage(1, 2, 3, 4) + Usage(10, 20, 30, 40)
    assert total == Usage(11, 22, 33, 44)
    assert total.total_input == 11 + 33 + 44
    assert Usage.from_dict(total.to_dict()) == total
    assert Usage.from_dict({"input_tokens": 5, "cache_read_input_tokens": None}) == Usage(5)


def test_response_helpers() -> None:
    response = ModelResponse(
        [{"type": "text", "text": "a"}, tool_use("x", {}, id="t"), {"type": "text", "text": "b"}],
        "tool_use",
        Usage(),
        MODEL,
    )
    assert response.text == "ab"
    assert [b["id"] for b in response.tool_uses] == ["t"]


def test_cost_of_a_known_model() -> None:
    usage = Usage(1_000_000, 1_000_000, 1_000_000, 1_000_000)
    # sonnet: 3 input + 15 output + 3.75 cache write + 0.30 cache read
    assert cost_usd("claude-sonnet-4-6", usage) == pytest.approx(22.05)
    assert cost_usd("claude-opus-4-6", {"input_tokens": 2_000_000}) == pytest.approx(10.0)
    assert cost_usd("claude-opus-4-1", {"output_tokens": 1_000_000}) == pytest.approx(75.0)


def test_unknown_model_has_no_price() -> None:
    assert cost_usd("llama3:8b", Usage(100, 100)) is None
    assert cost_usd("claude-opus-4-7", Usage(100, 100)) is None  # not "claude-opus-4"
    assert worst_case_cost("qwen", 1000, 1000) is None


def test_dated_ids_match_by_prefix() -> None:
    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")
    assert cost_usd("claude-haiku-4-5-20251001", Usage(0, 1_000_000)) == pytest.approx(5.0)
    assert price_for("claude-opus-4-20250514") == price_for("claude-opus-4-1")


def test_worst_case_cost_prices_input_as_cache_writes() -> None:
    # haiku: 1M input at 1.25 + 100k output at 5/M
    assert worst_case_cost("claude-haiku-4-5", 1_000_000, 100_000) == pytest.approx(1.75)
