"""The tests' fake model server: the loopback scripted server of `evals.scripted_server`.

One copy serves both: the eval harness's user-facing `--scripted` mode and the tests."""

import sys

from evals.scripted_server import (
    FakeAnthropic,
    Fault,
    LoopScript,
    RecordedRequest,
    Script,
    Turn,
    TurnSource,
    main,
    script_from_json,
    text,
    thinking,
    tool_use,
)

__all__ = [
    "FakeAnthropic",
    "Fault",
    "LoopScript",
    "RecordedRequest",
    "Script",
    "Turn",
    "TurnSource",
    "script_from_json",
    "text",
    "thinking",
    "tool_use",
]

if __name__ == "__main__":
    sys.exit(main())
