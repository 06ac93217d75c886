"""Agent specs: Markdown with YAML front matter, as Claude Code's `.claude/agents/*.md`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.errors import UsageError

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "system_prompts"
REPO_DIR = Path(".claude") / "agents"

# Claude Code's model aliases, resolved to the ids this release knows prices for.
MODEL_ALIASES = {
    "sonnet": "claude-sonnet-4-6",
    "opus": "claude-opus-4-6",
    "haiku": "claude-haiku-4-5",
}

# Claude Code tool names mapped onto ours; a spec that names none of ours gets all of them.
TOOL_ALIASES = {
    "read": "str_replace_based_edit_tool",
    "edit": "str_replace_based_edit_tool",
    "write": "str_replace_based_edit_tool",
    "multiedit": "str_replace_based_edit_tool",
    "glob": "str_replace_based_edit_tool",
    "ls": "str_replace_based_edit_tool",
    "str_replace_based_edit_tool": "str_replace_based_edit_tool",
    "bash": "bash",
    "grep": "bash",
    "run_tests": "run_tests",
    "run_lint": "run_lint",
}


@dataclass(frozen=True)
class AgentSpec:
    name: str
    description: str
    body: str
    path: Path
    tools: tuple[str, ...] | None = None  # our tool names; None means every tool
    model: str | None = None
    max_turns: int | None = None


def load_spec(path: Path) -> AgentSpec:
    """Parse one spec file. Every problem is reported as `FILE: what is wrong`."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: agent spec not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read agent spec: {exc}") from None
    if not text.startswith("---"):
        raise UsageError(f"{path}: missing YAML front matter (the file must start with '---')")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise UsageError(f"{path}: YAML front matter is not closed by a '---' line")
    header, body = parts[0][3:], parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        raise UsageError(f"{path}: invalid YAML front matter{where}") from None
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: front matter must be a YAML mapping")
    for field in ("name", "description"):
        if not isinstance(meta.get(field), str) or not meta[field].strip():
            raise UsageError(f"{path}: front matter field {field!r} is required")
    max_turns = meta.get("maxTurns")
    if max_turns is not None and (not isinstance(max_turns, int) or max_turns < 1):
        raise UsageError(f"{path}: front matter field 'maxTurns' must be a positive integer")
    model = meta.get("model")
    if model is not None and not isinstance(model, str):
        raise UsageError(f"{path}: front matter field 'model' must be a string")
    if model == "inherit":
        model = None
    return AgentSpec(
        name=meta["name"].strip(),
        description=" ".join(meta["description"].split()),
        body=body.strip() + "\n",
        path=path,
        tools=_parse_tools(path, meta.get("tools")),
        model=MODEL_ALIASES.get(model, model) if model else None,
        max_turns=max_turns,
    )


def _parse_tools(path: Path, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = value
    else:
        raise UsageError(f"{path}: front matter field 'tools' must be a list or a comma list")
    ours = {TOOL_ALIASES[n.lower()] for n in names if n.lower() in TOOL_ALIASES}
    if "bash" in ours:
        ours |= {"run_tests", "run_lint"}
    return tuple(sorted(ours)) if ours else None


def find_spec(name_or_path: str, repo: Path) -> AgentSpec:
    """`--agent PATH.md` or `--agent NAME`: the repo's `.claude/agents/` first, then built-ins."""
    if name_or_path.endswith(".md") or "/" in name_or_path:
        candidate = Path(name_or_path).expanduser()
        if not candidate.is_absolute():
            candidate = (Path.cwd() / candidate).resolve()
        return load_spec(candidate)
    for folder in (repo / REPO_DIR, BUILTIN_DIR):
        candidate = folder / f"{name_or_path}.md"
        if candidate.is_file():
            return load_spec(candidate)
    known = ", ".join(s.name for s in list_specs(repo)) or "none"
    raise UsageError(
        f"no agent spec named {name_or_path!r} (found: {known}); see `backend-agent agents`"
    )


def list_specs(repo: Path) -> list[AgentSpec]:
    """Every spec visible from `repo`, repo specs first; a name found twice is shadowed."""
    found: dict[str, AgentSpec] = {}
    for folder in (repo / REPO_DIR, BUILTIN_DIR):
        for path in sorted(folder.glob("*.md")):
            spec = load_spec(path)
            found.setdefault(path.stem, spec)
    return list(found.values())
