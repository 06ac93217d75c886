"""Reading HTTP status codes out of `status_code=` arguments."""

from __future__ import annotations

import ast
import re
from http import HTTPStatus

from agent.checker.astutil import last_name

_STATUS_NAME = re.compile(r"^HTTP_(\d{3})(?:_|$)")
VALID_STATUSES = frozenset(status.value for status in HTTPStatus)


def status_value(node: ast.expr | None) -> int | None:
    """`404` or `status.HTTP_404_NOT_FOUND` -> 404; None when not statically known."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    match = _STATUS_NAME.match(last_name(node))
    return int(match.group(1)) if match else None
