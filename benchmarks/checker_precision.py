"""Precision of the quality checker: of the findings it reports, how many are real
violations of the spec's rules.

    python benchmarks/checker_precision.py [PROJECT ...] [--quiet]

Without arguments it runs on the four fixture repos in `tests/checker_cases/repos/` (the
shapes of the full-stack FastAPI template's backend/, a RealWorld API, an asyncpg service
with raw SQL, a large app under src/<pkg>/). Their findings are scored against the
`# expect: CODE` marks written by hand in the fixtures: precision = marked findings / all
findings, and marks with no finding are listed as misses.

With PROJECT paths (e.g. checkouts of public repos made with `git archive`) it prints every
finding with its counts by rule, for reading by hand: there are no marks to score against,
so the verdict is yours. Timing is printed as files per second, for comparison only.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from _common import ROOT  # noqa: F401  (puts the repo root on sys.path)

from agent.checker.engine import inspect_project
from agent.checker.project import load
from tests.checker_cases.expectations import FIXTURE_REPOS, expected

TARGET = 0.95


def run(name: str, project: Path, *, quiet: bool) -> tuple[int, int | None]:
    started = time.perf_counter()
    report = inspect_project(project)
    seconds = time.perf_counter() - started
    files = len(load(project).files)
    found = {(v.path, v.line, v.code): v for v in [*report.violations, *report.notices]}
    marks = expected(project) if name in FIXTURE_REPOS else None
    print(f"\n== {name}: {project}")
    print(f"   {files} files in {seconds:.2f} s ({files / max(seconds, 1e-9):.0f} files/s)")
    if not quiet:
        for key, v in sorted(found.items()):
            verdict = "" if marks is None else ("real " if key in marks else "FALSE")
            verdict = "note " if v.code == "note" else verdict
            print(f"   {verdict} {v.path}:{v.line}:{v.col}: {v.code} {v.message}")
    counts = Counter(v.code for v in report.violations)
    print("   by rule: " + (", ".join(f"{c} {n}" for c, n in sorted(counts.items())) or "none"))
    if report.notices:
        print(f"   not checked (need a newer Python): {len(report.notices)} file(s)")
    if marks is None:
        print(f"   findings: {len(report.violations)} (judge by hand)")
        return len(report.violations), None
    violations = {key for key in found if key[2] != "note"}
    real = len(violations & marks)
    missed = sorted(marks - set(found))
    for path, line, code in missed:
        print(f"   MISSED {path}:{line}: {code}")
    precision = real / len(violations) if violations else 1.0
    print(f"   findings: {len(violations)}, real: {real}, precision: {precision:.1%}")
    return len(violations), real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="*", type=Path, help="projects to read by hand")
    parser.add_argument("--quiet", action="store_true", help="counts only, no findings")
    args = parser.parse_args()
    targets = (
        {path.name or str(path): path for path in args.projects} if args.projects else FIXTURE_REPOS
    )
    total = real = 0
    for name, project in targets.items():
        count, matched = run(name, project, quiet=args.quiet)
        if matched is not None:
            total, real = total + count, real + matched
    if total:
        precision = real / total
        verdict = "PASS" if precision >= TARGET else "FAIL"
        print(
            f"\nall fixture repos: {real}/{total} real = {precision:.1%} "
            f"(target >= {TARGET:.0%}): {verdict}"
        )


if __name__ == "__main__":
    main()
