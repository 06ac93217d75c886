"""The transcript reader: any truncation of a valid transcript reads back, and state replays."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.runner import RunState
from agent.transcript import Transcript, find_run, new_run_dir, read_events

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
events = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["tool_call", "retry", "note"]), "data": json_values}
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(events=events, cut=st.floats(min_value=0, max_value=1))
def test_any_truncation_reads_back_a_prefix(tmp_path_factory, events, cut):
    path: Path = tmp_path_factory.mktemp("t") / "transcript.jsonl"
    transcript = Transcript(path)
    for event in events:
        transcript.write(dict(event))
    transcript.close()
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * cut)])
    read = read_events(path)
    assert [{"type": e["type"], "data": e["data"]} for e in read] == events[: len(read)]
    complete_lines = raw[: int(len(raw) * cut)].count(b"\n")
    assert len(read) >= complete_lines
    # Appending after a torn line seals it: the new event is readable.
    reopened = Transcript(path)
    reopened.write({"type": "resume"})
    reopened.close()
    assert read_events(path)[-1]["type"] == "resume"


def test_replay_rebuilds_messages_usage_and_gate_rounds():
    usage = {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 80,
    }
    log = [
        {"type": "message", "message": {"role": "user", "content": "hi"}, "elapsed": 0.1},
        {"type": "usage", "usage": usage, "cost": 0.5, "messages": 1, "elapsed": 1.0},
        {
            "type": "message",
            "message": {"role": "assistant", "content": []},
            "stop_reason": "end_turn",
        },
        {"type": "gate", "checks": [{"name": "tests", "ok": False}], "elapsed": 4.0},
        {"type": "usage", "usage": usage, "cost": None, "messages": 3, "elapsed": 5.5},
    ]
    state = RunState.replay(json.loads(json.dumps(log)))
    assert [m["role"] for m in state.messages] == ["user", "assistant"]
    assert state.last_stop == "end_turn"
    assert state.turns == 2 and state.usage.cache_read_input_tokens == 160
    assert state.cost is None, "one unknown price makes the total unknown"
    assert state.gate_rounds == 1 and state.elapsed == 5.5


def test_find_run_by_prefix_suffix_and_last(tmp_path):
    first = new_run_dir(tmp_path, "add-books")
    second = new_run_dir(tmp_path, "add-authors")
    for run in (first, second):
        run.write_meta({"work_root": str(tmp_path)})
    new_run_dir(tmp_path, "killed-during-setup")  # no meta: nothing to resume
    assert find_run(tmp_path, "last").run_id == second.run_id
    assert find_run(tmp_path, "add-books").run_id == first.run_id
    assert find_run(tmp_path, first.run_id).run_id == first.run_id
