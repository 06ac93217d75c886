"""Read the `# expect: CODE ...` marks of the fixture repos under `repos/`.

Each fixture repo copies the shape of a public FastAPI codebase. A finding the checker should
report is marked on its line with `# expect: BA110` (`note` for a file that needs a newer
Python to parse); every unmarked finding is a false positive. The marks are the hand
verdicts that `benchmarks/checker_precision.py` scores and `tests/test_checker.py` enforces.
"""

from __future__ import annotations

import re
from pathlib import Path

REPOS = Path(__file__).parent / "repos"
# name -> the project directory the checker runs in (the full-stack template keeps it in backend/)
FIXTURE_REPOS = {
    "fullstack": REPOS / "fullstack" / "backend",
    "realworld": REPOS / "realworld",
    "asyncpg": REPOS / "asyncpg",
    "large": REPOS / "large",
}
_MARK = re.compile(rb"#\s*expect:\s*(?P<codes>[\w ]+)$")

Finding = tuple[str, int, str]  # (path relative to the project, line, code or "note")


def expected(project: Path) -> set[Finding]:
    out: set[Finding] = set()
    for path in sorted(project.rglob("*.py")):
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            match = _MARK.search(line.rstrip())
            if match:
                rel = path.relative_to(project).as_posix()
                out |= {(rel, number, code) for code in match.group("codes").decode().split()}
    return out
