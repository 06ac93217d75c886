"""The fake GitHub answers in GitHub's real shapes: every response and webhook payload the bot
meets validates against githubkit's models, which are generated from GitHub's own OpenAPI
description and webhook schemas (the same that @octokit/openapi and @octokit/webhooks ship)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from githubkit import webhooks
from githubkit.compat import type_validate_python
from githubkit_schemas.latest import models

from tests.conftest import git, init_repo
from tests.fakes.github_server import FakeGitHub

TOKEN = "ghp_shape0123456789"
REPO = "acme/calc"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGitHub]:
    source = init_repo(tmp_path / "src", {"a.py": "x = 1\n"})
    git(source, "checkout", "-q", "-b", "feature")
    git(source, "commit", "-q", "--allow-empty", "-m", "feature")
    git(tmp_path, "clone", "-q", "--bare", str(source), str(tmp_path / "remotes/acme/calc.git"))
    github = FakeGitHub(tmp_path / "remotes")
    github.add_user("bot", token=TOKEN)
    github.add_user("mona")
    github.add_repo(REPO)
    github.add_issue(REPO, "A title", "A body", "mona")
    github.start()
    yield github
    github.stop()


def call(fake: FakeGitHub, method: str, path: str, json: Any = None) -> Any:
    answer = httpx.request(
        method, fake.url + path, json=json, headers={"Authorization": f"token {TOKEN}"}
    )
    assert answer.is_success, answer.text
    return answer.json()


def test_webhook_payloads_match_githubs_schemas(fake):
    webhooks.parse_obj("issues", fake.label_event(REPO, 1, "mona", "backend-agent"))
    webhooks.parse_obj("issue_comment", fake.comment_event(REPO, 1, "mona", "/backend-agent"))
    webhooks.parse_obj("ping", fake.ping_event(REPO))


def test_rest_responses_match_githubs_schemas(fake):
    comment = call(fake, "POST", f"/repos/{REPO}/issues/1/comments", {"body": "hi"})
    pull = call(
        fake,
        "POST",
        f"/repos/{REPO}/pulls",
        {"title": "T", "head": "feature", "base": "main", "body": "b", "draft": True},
    )
    checks = [
        (models.PrivateUser | models.PublicUser, call(fake, "GET", "/user")),
        (models.FullRepository, call(fake, "GET", f"/repos/{REPO}")),
        (
            models.RepositoryCollaboratorPermission,
            call(fake, "GET", f"/repos/{REPO}/collaborators/mona/permission"),
        ),
        (models.Issue, call(fake, "GET", f"/repos/{REPO}/issues/1")),
        (models.IssueComment, comment),
        (list[models.IssueComment], call(fake, "GET", f"/repos/{REPO}/issues/1/comments")),
        (
            models.IssueComment,
            call(
                fake, "PATCH", f"/repos/{REPO}/issues/comments/{comment['id']}", {"body": "edited"}
            ),
        ),
        (
            models.Reaction,
            call(
                fake,
                "POST",
                f"/repos/{REPO}/issues/comments/{comment['id']}/reactions",
                {"content": "eyes"},
            ),
        ),
        (models.PullRequest, pull),
        (
            list[models.PullRequestSimple],
            call(fake, "GET", f"/repos/{REPO}/pulls?state=open&head=acme:feature"),
        ),
        (
            models.PullRequest,
            call(fake, "PATCH", f"/repos/{REPO}/pulls/{pull['number']}", {"body": "c"}),
        ),
        (
            list[models.Label],
            call(fake, "POST", f"/repos/{REPO}/issues/1/labels", {"labels": ["x"]}),
        ),
    ]
    for model, data in checks:
        type_validate_python(model, data)


def test_errors_look_like_githubs(fake):
    bad = httpx.get(fake.url + "/user", headers={"Authorization": "token nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    missing = call(fake, "GET", f"/repos/{REPO}/pulls?head=acme:nothing")
    assert missing == []
    refused = httpx.post(
        fake.url + f"/repos/{REPO}/pulls",
        headers={"Authorization": f"token {TOKEN}"},
        json={"title": "T", "head": "nothing", "base": "main"},
    )
    assert refused.status_code == 422 and refused.json()["message"] == "Validation Failed"
