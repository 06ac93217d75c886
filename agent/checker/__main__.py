"""`python -m agent.checker [PATH] [--json] [--select ...] [--ignore ...] [--rules]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.checker.report import main
from agent.checker.rules import format_rules


def _codes(value: str) -> list[str]:
    return [code.strip() for code in value.split(",") if code.strip()]


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.checker")
    parser.add_argument("path", nargs="?", default=".", type=Path)
    parser.add_argument("--json", action="store_true", dest="as_json")
    parser.add_argument("--select", type=_codes, default=None)
    parser.add_argument("--ignore", type=_codes, default=[])
    parser.add_argument("--rules", action="store_true", help="print the rule table and exit")
    args = parser.parse_args(argv)
    if args.rules:
        print(format_rules())
        return 0
    return main(args.path, select=args.select, ignore=args.ignore, as_json=args.as_json)


if __name__ == "__main__":
    sys.exit(run())
