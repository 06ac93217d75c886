"""`python -m agent.checker [PATH] [--json] [--select ...] [--ignore ...] [--rules]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.checker.report import main
from agent.checker.rules import format_rules


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent.checker",
        description="Check a FastAPI project against the backend spec's Quality Standards.",
        epilog="Exit status: 0 clean, 1 violations, 2 bad path or configuration.",
    )
    parser.add_argument("path", nargs="?", default=".", type=Path, help="project root")
    parser.add_argument(
        "--json",
        action="store_true",
        dest="as_json",
        help='print one JSON object per finding per line (files left unchecked: "code": null)',
    )
    selector = "rule codes or prefixes; repeat or comma-separate"
    parser.add_argument("--select", action="append", default=None, help=f"only these {selector}")
    parser.add_argument("--ignore", action="append", default=[], help=f"also skip these {selector}")
    parser.add_argument("--rules", action="store_true", help="print the rule table and exit")
    args = parser.parse_args(argv)
    if args.rules:
        print(format_rules())
        return 0
    return main(args.path, select=args.select, ignore=args.ignore, as_json=args.as_json)


if __name__ == "__main__":
    sys.exit(run())
