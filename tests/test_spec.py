"""Agent specs: the shipped default, and how specs are found and parsed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from agent.spec import BUILTIN_DIR, find_spec, list_specs, load_spec

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seeds" / "backend.md"
# sha256 of the user's spec as delivered; it ships unchanged.
SEED_SHA256 = "80e00e954ed0698509f34d5ef4f8f3749e5550dc54f8b700794104d006468796"


def test_the_default_spec_ships_byte_for_byte_unchanged():
    shipped = (BUILTIN_DIR / "backend.md").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == SEED_SHA256
    if SEED.is_file():
        assert shipped == SEED.read_bytes()


def test_default_spec_parses(tmp_path):
    spec = find_spec("backend", tmp_path)
    assert spec.name == "backend" and spec.description.startswith("FastAPI and Python backend")
    assert "## Quality Standards" in spec.body and spec.tools is None and spec.model is None


def test_claude_code_fields_are_mapped(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(
        "---\nname: api\ndescription: >\n  Folded\n  text.\ntools: Read, Grep, Bash\n"
        "model: opus\nmaxTurns: 7\n---\n\nBody.\n"
    )
    spec = load_spec(path)
    assert spec.description == "Folded text."
    assert spec.tools == ("bash", "run_lint", "run_tests", "str_replace_based_edit_tool")
    assert spec.model == "claude-opus-4-6" and spec.max_turns == 7 and spec.body == "Body.\n"


def test_repo_specs_shadow_builtin_ones(tmp_path):
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "backend.md").write_text("---\nname: backend\ndescription: mine\n---\nx\n")
    (agents / "reviewer.md").write_text("---\nname: reviewer\ndescription: r\n---\ny\n")
    specs = {s.name: s for s in list_specs(tmp_path)}
    assert specs["backend"].description == "mine" and "reviewer" in specs
    assert find_spec("backend", tmp_path).path == agents / "backend.md"
