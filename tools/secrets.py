"""Keeping credentials away from model-requested commands and out of what the model reads.

Two layers: commands start from an allowlisted environment (so an API key in the runner's
environment is never inherited), and every tool output is passed through a `Redactor` that
knows the secret values the runner holds (so `cat .env` does not send them to the API).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# What tools need to behave normally; nothing here ever carries a credential by convention.
SAFE_NAMES: frozenset[str] = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "PYENV_ROOT",
        "PYENV_VERSION",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "PYTHONHASHSEED",
        "NO_COLOR",
        "FORCE_COLOR",
        "COLUMNS",
        "LINES",
    }
)
SAFE_PATTERNS: tuple[str, ...] = ("LC_*",)

# Names that hold credentials by convention; refused even when allowed explicitly.
_SECRET_NAME = re.compile(
    r"^(ANTHROPIC_|GITHUB_|AWS_)|TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE",
    re.IGNORECASE,
)
MIN_SECRET_LENGTH = 8
REDACTED = "[REDACTED]"
# The password of any URL with credentials (`postgresql://user:PASSWORD@host/db`), however short.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s/@]+(?=@)", re.I)


def is_secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def _allowed(name: str, patterns: Sequence[str]) -> bool:
    return name in SAFE_NAMES or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def scrubbed_env(
    source: Mapping[str, str], allow: Sequence[str] = (), home: str = "/tmp"
) -> dict[str, str]:
    """The environment for a command: allowlisted names only (plus `allow`, which may hold
    glob patterns such as `MYAPP_*`, e.g. `DATABASE_URL` when the project is configured to
    pass it), never a secret-looking name, and HOME pointing at a throwaway place so tools do
    not read the user's dotfiles (~/.netrc, ~/.git-credentials, ~/.aws)."""
    patterns = (*SAFE_PATTERNS, *allow)
    env = {
        name: value
        for name, value in source.items()
        if _allowed(name, patterns) and not is_secret_name(name)
    }
    env["HOME"] = home
    return env


def dropped_secrets(source: Mapping[str, str], allow: Sequence[str]) -> list[str]:
    """Names that `allow` lets through but that are withheld anyway for looking like secrets:
    the user asked for them, so they are told (once, by name) rather than left guessing."""
    return sorted(
        name
        for name in source
        if is_secret_name(name) and any(fnmatch.fnmatchcase(name, p) for p in allow)
    )


def _file_values(text: str) -> Iterable[str]:
    """Each non-empty line, and the value of each `KEY=value` line (dotenv style)."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        yield line
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep and name.strip().replace("_", "").isalnum():
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            yield value


class Redactor:
    """Replaces known secret values, and the password of any URL, with `[REDACTED]`.

    One compiled alternation, longest value first so a secret containing another is replaced
    whole. Values shorter than 8 characters are ignored: they would redact ordinary words.
    A secret cut in two by the output cap or transformed (base64, URL-encoded) is not caught."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        unique = {v for v in values if len(v) >= MIN_SECRET_LENGTH}
        self.count = len(unique)
        ordered = sorted(unique, key=lambda v: (-len(v), v))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_environment(
        cls,
        env: Mapping[str, str],
        extra_values: Iterable[str] = (),
        secret_files: Iterable[Path] = (),
    ) -> Redactor:
        """Secrets from secret-named variables of `env`, explicit values (an API key), and
        files such as `.env` (unreadable files are skipped)."""
        values: list[str] = []
        for name, value in env.items():
            if is_secret_name(name):
                values.append(value.strip())
                values.extend(line.strip() for line in value.splitlines())
        values.extend(v.strip() for v in extra_values)
        for path in secret_files:
            try:
                text = Path(path).read_text(errors="replace")
            except OSError:
                continue
            values.extend(_file_values(text))
        return cls(values)

    def redact(self, text: str) -> str:
        # Known values first: a secret file's whole line must still match before its URL's
        # password is cut out of it.
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        if "://" in text:
            text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
        return text
