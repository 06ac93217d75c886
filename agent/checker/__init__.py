"""Static checker for the Quality Standards and "Never Do" lists of the backend spec.

`check_project(root)` parses `root/app/**.py` with `ast` and returns ruff-style violations
(codes `BA...`, see `RULES`); `main` is what `backend-agent check` calls.
"""

from agent.checker.engine import check_project
from agent.checker.report import CheckSettings, format_json, format_text, load_settings, main
from agent.checker.rules import RULES, UNCHECKED, Rule, Violation, format_rules

__all__ = [
    "RULES",
    "UNCHECKED",
    "CheckSettings",
    "Rule",
    "Violation",
    "check_project",
    "format_json",
    "format_rules",
    "format_text",
    "load_settings",
    "main",
]
