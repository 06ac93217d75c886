"""Exceptions that end a run. Each carries the process exit status it maps to."""

from __future__ import annotations


class AgentError(Exception):
    """Base class; `str(error)` is one line a user can act on."""

    exit_code = 1


class UsageError(AgentError):
    """Bad input from the user: a flag, a path, a spec, a config value."""

    exit_code = 2


class StopRun(AgentError):
    """The loop ended before green: a budget, a refusal, a context overflow."""

    exit_code = 1


class Interrupted(AgentError):
    exit_code = 130
