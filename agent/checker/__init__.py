"""Static checker for the Quality Standards and "Never Do" lists of the backend spec.

`check_project(root)` parses the project's packages (`app/`, `src/<pkg>/`, top-level
packages) with `ast` and returns ruff-style violations (codes `BA...`, see `RULES`);
`inspect_project` also returns the files left unchecked because they need a newer Python;
`main` is what `backend-agent check` calls.
"""

from agent.checker.engine import Report, check_project, inspect_project
from agent.checker.report import CheckSettings, format_json, format_text, load_settings, main
from agent.checker.rules import RULES, UNCHECKED, Rule, Violation, format_rules

__all__ = [
    "RULES",
    "UNCHECKED",
    "CheckSettings",
    "Report",
    "Rule",
    "Violation",
    "check_project",
    "format_json",
    "format_rules",
    "format_text",
    "inspect_project",
    "load_settings",
    "main",
]
