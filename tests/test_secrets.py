"""The environment a command gets, and redaction of known secret values."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tools.secrets import REDACTED, Redactor, is_secret_name, scrubbed_env

SOURCE = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TERM": "xterm",
    "HOME": "/root",
    "USER": "root",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock",
    "DATABASE_URL": "postgresql://app:pw@db/app",
    "ANTHROPIC_API_KEY": "sk-ant-xxxxxxxxxxxx",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    "GITHUB_TOKEN": "ghp_xxxxxxxxxxxxxxxx",
    "GITHUB_REPOSITORY": "o/r",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-xxxxxxxx",
    "AWS_REGION": "eu-west-1",
    "MY_DB_PASSWORD": "hunter2hunter2",
    "npm_token": "npm_xxxxxxxxxxxx",
    "Stripe_Secret": "sk_live_xxxxxxxx",
    "SIGNING_KEY": "abcdefabcdef",
}


def test_only_allowlisted_names_pass():
    env = scrubbed_env(SOURCE)
    assert env == {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm",
        "HOME": "/tmp",
    }


def test_allow_adds_names_and_patterns_but_never_secrets():
    allow = ["DATABASE_URL", "USER", "GITHUB_*", "AWS_*", "ANTHROPIC_API_KEY", "*PASSWORD*"]
    env = scrubbed_env(SOURCE, allow=allow, home="/work/home")
    assert env["DATABASE_URL"] == SOURCE["DATABASE_URL"]
    assert env["USER"] == "root"
    assert env["HOME"] == "/work/home"
    for name in env:
        assert not name.startswith(("ANTHROPIC_", "GITHUB_", "AWS_")), name
    assert "MY_DB_PASSWORD" not in env


def test_secret_names_are_case_insensitive():
    for name in ("npm_token", "Stripe_Secret", "db_password", "ssh_private_key", "Api_Key"):
        assert is_secret_name(name), name
    for name in ("PATH", "LANG", "DATABASE_URL", "TERM", "PYTHONPATH"):
        assert not is_secret_name(name), name


def test_redactor_longest_first_and_short_values_ignored():
    redactor = Redactor(["abcdefgh", "abcdefgh-1234", "short", ""])
    assert redactor.count == 2
    assert redactor.redact("x abcdefgh-1234 y abcdefgh z short") == (
        f"x {REDACTED} y {REDACTED} z short"
    )


def test_redactor_escapes_regex_characters():
    secret = "a.b*c+d?(e)[f]|g\\h"
    redactor = Redactor([secret])
    assert redactor.redact(f"<{secret}>") == f"<{REDACTED}>"
    assert redactor.redact("aXb*c+d?(e)[f]|g\\h") == "aXb*c+d?(e)[f]|g\\h"


def test_from_environment_reads_env_values_and_files(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment line that is long enough\n"
        "export STRIPE_KEY='sk_live_abcdefgh'\n"
        'DATABASE_URL="postgresql://app:s3cretpw@db/app"\n'
        "SHORT=abc\n"
    )
    pem = tmp_path / "key.pem"
    pem.write_text("-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n-----END KEY-----\n")
    redactor = Redactor.from_environment(
        {"ANTHROPIC_API_KEY": "sk-ant-0123456789", "PATH": "/usr/local/bin:/usr/bin"},
        extra_values=["explicit-api-key-value"],
        secret_files=[env_file, pem, tmp_path / "missing.env"],
    )
    text = (
        "key sk-ant-0123456789; explicit-api-key-value; sk_live_abcdefgh; "
        "postgresql://app:s3cretpw@db/app; MIIEvQIBADANBgkqhkiG9w0BAQEF; abc; "
        "/usr/local/bin:/usr/bin"
    )
    out = redactor.redact(text)
    for secret in (
        "sk-ant-0123456789",
        "explicit-api-key-value",
        "sk_live_abcdefgh",
        "s3cretpw",
        "MIIEvQIBADANBgkqhkiG9w0BAQEF",
    ):
        assert secret not in out
    assert "abc;" in out  # too short to be treated as a secret
    assert "/usr/local/bin:/usr/bin" in out  # PATH is not secret-named
    assert redactor.redact("# comment line that is long enough") == (
        "# comment line that is long enough"
    )


def test_empty_redactor_is_identity():
    assert Redactor().redact("anything") == "anything"
    assert Redactor.from_environment({"PATH": "/bin"}).redact("x") == "x"


def test_redaction_is_fast_on_large_output():
    redactor = Redactor([f"secret-value-{i:04d}-xyz" for i in range(200)])
    text = ("ordinary log line with nothing secret in it\n" * 25_000) + "secret-value-0042-xyz"
    started = time.monotonic()
    out = redactor.redact(text)
    assert out.endswith(REDACTED)
    assert time.monotonic() - started < 1.0


secrets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8, max_size=40)


@given(
    values=st.lists(secrets, min_size=1, max_size=5),
    parts=st.lists(st.text(max_size=20), min_size=1, max_size=6),
)
def test_no_known_secret_survives(values: list[str], parts: list[str]):
    redactor = Redactor(values)
    text = "".join(p + values[i % len(values)] for i, p in enumerate(parts))
    out = redactor.redact(text)
    for value in values:
        assert value not in out
