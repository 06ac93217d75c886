"""Fuzz a project's ASGI app with schemathesis, in-process, and print the findings as JSON.

Run by the gate inside the sandbox, with the project's own python and the project as the
working directory: `python probe.py --app app.main:app [--base COMMIT] ...`. It imports nothing
from backend-agent (only the stdlib, schemathesis and the project), because it runs where the
project's dependencies are, not the agent's. The last line of its output is
`RESULT_MARKER <json>`; everything above it is the app's own noise.

Which operations: those the run added or changed, found by comparing the app's OpenAPI
document with the one of `--base` (checked out with `git archive` into a temporary directory
and read by a second process of this script), or all of them with `--all`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

RESULT_MARKER = "BACKEND_AGENT_FUZZ_RESULT"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FUZZ_EMAIL = "fuzzer@example.com"
FUZZ_PASSWORD = "fuzzer-password-1234"
MAX_CURL = 600


class BudgetSpent(Exception):
    """The fuzz budget in seconds ran out in the middle of an operation."""


def load_app(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute or "app")


def openapi_of(spec: str) -> dict[str, Any]:
    app = load_app(spec)
    return app.openapi()


def operations(document: dict[str, Any]) -> dict[str, str]:
    """`METHOD /path` -> the operation as canonical JSON, its schema references inlined, so
    that a changed request or response model changes the operation."""
    components = document.get("components", {})

    def inline(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/") and ref not in seen:
                kind, _, name = ref.removeprefix("#/components/").partition("/")
                return inline(components.get(kind, {}).get(name, {}), seen | {ref})
            return {key: inline(value, seen) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item, seen) for item in node]
        return node

    found = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in METHODS:
                body = inline(operation, frozenset())
                found[f"{method.upper()} {path}"] = json.dumps(body, sort_keys=True)
    return found


def start_base_openapi(base: str, app_spec: str) -> tuple[subprocess.Popen[str], str] | None:
    """Starts reading the OpenAPI document of the app at commit `base` in a second process
    (it runs while this one imports the current app); None if `base` cannot be checked out."""
    archive = subprocess.run(
        ["git", "-c", "safe.directory=*", "archive", "--format=tar", base],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    tree = tempfile.mkdtemp(prefix="fuzz-base-")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--app", app_spec, "--openapi"],
        cwd=tree,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return process, tree


def finish_base_openapi(started: tuple[subprocess.Popen[str], str] | None) -> dict[str, str]:
    """The operations of the base app; none if it had no app (everything is then new)."""
    if started is None:
        return {}
    process, tree = started
    try:
        stdout, _ = process.communicate()
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    lines = stdout.splitlines()
    if process.returncode != 0 or not lines:
        return {}
    return operations(json.loads(lines[-1]))


def login_cookies(app: Any, paths: list[str]) -> dict[str, str]:
    """Registers the fuzz user and logs in through the app's own endpoints; the cookies set."""
    from schemathesis.python import asgi

    cookies: dict[str, str] = {}
    credentials = {"email": FUZZ_EMAIL, "password": FUZZ_PASSWORD}
    with asgi.get_client(app) as client:
        for path in paths:
            response = client.post(path, json=credentials)
            cookies.update(response.cookies.get_dict())
            for header in response.raw.headers.getlist("set-cookie") if response.raw else []:
                name, _, rest = header.partition("=")
                cookies[name.strip()] = rest.split(";", 1)[0]
    return {name: value for name, value in cookies.items() if value.strip('"')}


def fuzz(
    app: Any,
    targets: list[str],
    identities: dict[str, dict[str, str]],
    max_examples: int,
    deadline: float,
    seed: int,
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str], int]:
    """Findings keyed by (operation, check), the operations not (fully) fuzzed, cases sent."""
    import schemathesis
    from schemathesis import checks
    from schemathesis.core.failures import FailureGroup
    from schemathesis.core.result import Ok
    from schemathesis.generation.modes import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    wanted = [
        checks.not_a_server_error,
        checks.response_schema_conformance,
        checks.status_code_conformance,
        checks.content_type_conformance,
    ]
    findings: dict[tuple[str, str], dict[str, Any]] = {}
    unfinished: list[str] = []
    sent = 0

    def case_runner(label: str, identity: str, cookies: dict[str, str]) -> Callable[[Any], None]:
        def run_case(case: Any) -> None:
            nonlocal sent
            if time.monotonic() > deadline:
                raise BudgetSpent
            sent += 1
            try:
                case.call_and_validate(checks=wanted, cookies=cookies)
            except FailureGroup as group:
                record(findings, label, identity, case, group.exceptions)
            except Exception as exc:  # the app raised: in production, a 500
                crash = AppCrash(f"{type(exc).__name__}: {exc}")
                record(findings, label, identity, case, [crash])

        return run_case

    by_label = {
        f"{result.ok().method.upper()} {result.ok().path}": result.ok()
        for result in schema.get_all_operations()
        if isinstance(result, Ok)
    }
    for label in targets:
        operation = by_label.get(label)
        if operation is None:
            continue
        try:
            for identity, cookies in identities.items():
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    strategy = operation.as_strategy(generation_mode=mode)
                    run_cases(strategy, case_runner(label, identity, cookies), max_examples, seed)
        except BudgetSpent:
            unfinished.extend(targets[targets.index(label) :])
            break
    return findings, unfinished, sent


def run_cases(strategy: Any, run_case: Callable[[Any], None], max_examples: int, seed: int) -> None:
    """Hypothesis feeds `run_case` up to `max_examples` cases from `strategy`, from `seed`."""
    import hypothesis
    import hypothesis.errors

    test = hypothesis.given(strategy)(run_case)
    test = hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        verbosity=hypothesis.Verbosity.quiet,
    )(test)
    # Unsatisfiable: nothing to generate, e.g. invalid input for an operation without parameters.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        hypothesis.seed(seed)(test)()


class AppCrash(Exception):
    """The app raised instead of answering; a server would have sent a 500."""

    title = "Server error (unhandled exception)"


def record(
    findings: dict[tuple[str, str], dict[str, Any]],
    label: str,
    identity: str,
    case: Any,
    failures: Sequence[Exception],
) -> None:
    """One entry per (operation, check); of several reproductions, the shortest is kept."""
    curl = case.as_curl_command()
    for failure in failures:
        title = getattr(failure, "title", type(failure).__name__)
        message = " ".join(str(getattr(failure, "message", failure)).split())[:300]
        key = (label, title)
        known = findings.get(key)
        if known is None or len(curl) < len(known["curl"]):
            findings[key] = {
                "operation": label,
                "check": title,
                "identity": identity,
                "message": message,
                "curl": curl if len(curl) <= MAX_CURL else curl[:MAX_CURL] + " ...",
            }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="app.main:app", help="module:attribute of the ASGI app")
    parser.add_argument("--base", help="commit to compare with: fuzz what changed since")
    parser.add_argument("--all", action="store_true", help="fuzz every operation")
    parser.add_argument("--auth", default="", help="comma-separated POST paths that log in")
    parser.add_argument("--max-examples", type=int, default=10, help="per operation and mode")
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--openapi", action="store_true", help="print the OpenAPI document only")
    args = parser.parse_args(argv)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    # A throwaway key: the app must start, and nothing signed with it outlives this process.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    # bcrypt at its lowest cost (the scaffold's setting): fuzzing a login should not take 250 ms.
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    if args.openapi:
        print(json.dumps(openapi_of(args.app)))
        return 0
    start = time.monotonic()
    report: dict[str, Any] = {"findings": [], "targets": [], "unfinished": [], "cases": 0}
    try:
        compare = args.base and not args.all
        base_started = start_base_openapi(args.base, args.app) if compare else None
        app = load_app(args.app)
        current = operations(app.openapi())
        base = finish_base_openapi(base_started)
        targets = sorted(label for label, body in current.items() if base.get(label) != body)
        identities: dict[str, dict[str, str]] = {"anonymous": {}}
        auth_paths = [p for p in args.auth.split(",") if p]
        cookies = login_cookies(app, auth_paths) if targets and auth_paths else {}
        if cookies:  # else the auth paths set no cookie: anonymous only
            identities["logged in"] = cookies
        fuzz_start = time.monotonic()
        findings, unfinished, sent = fuzz(
            app, targets, identities, args.max_examples, fuzz_start + args.seconds, args.seed
        )
        report["fuzz_seconds"] = round(time.monotonic() - fuzz_start, 2)
        report.update(
            targets=targets,
            unfinished=unfinished,
            cases=sent,
            findings=[findings[key] for key in sorted(findings)],
            logged_in=bool(identities.get("logged in")),
        )
    except Exception as exc:  # reported to the gate, which says what went wrong
        report["error"] = f"{type(exc).__name__}: {exc}"
    report["seconds"] = round(time.monotonic() - start, 2)
    sys.stdout.flush()
    print(f"{RESULT_MARKER} {json.dumps(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
