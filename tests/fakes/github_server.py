"""A stateful loopback fake of the GitHub REST API: the calls the bot makes, answered in
GitHub's own response shapes (as in @octokit/openapi's examples), and recorded for tests.

It keeps repositories, issues, comments, reactions, labels, collaborator permissions and pull
requests; a pull request's head branch must exist in the repository's bare git directory, as on
GitHub. It also builds webhook payloads (`issues` labeled, `issue_comment` created, `ping`) from
its own state, shaped like @octokit/webhooks-examples."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

WEB = "https://github.com"
API = "https://api.github.com"
STAMP = "2026-12-02T06:00:00Z"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str


def user(login: str, uid: int, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": uid,
        "node_id": f"MDQ6VXNlcj{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": f"{API}/users/{login}",
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{API}/users/{login}/followers",
        "following_url": f"{API}/users/{login}/following{{/other_user}}",
        "gists_url": f"{API}/users/{login}/gists{{/gist_id}}",
        "starred_url": f"{API}/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{API}/users/{login}/subscriptions",
        "organizations_url": f"{API}/users/{login}/orgs",
        "repos_url": f"{API}/users/{login}/repos",
        "events_url": f"{API}/users/{login}/events{{/privacy}}",
        "received_events_url": f"{API}/users/{login}/received_events",
        "type": kind,
        "site_admin": False,
    }


@dataclass
class FakeGitHub:
    """Start with `.start()`; `url` is the API base to give the bot."""

    bare_root: Path  # bare repositories at bare_root/OWNER/NAME.git
    calls: list[Call] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login
    permissions: dict[tuple[str, str], str] = field(default_factory=dict)
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    reactions: dict[tuple[int, str, str], dict[str, Any]] = field(default_factory=dict)
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    app: dict[str, Any] | None = None  # a GitHub App: id, slug, public_key (PEM)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- set-up -----------------------------------------------------------------------------
    def add_user(self, login: str, kind: str = "User", token: str | None = None) -> dict:
        self.users[login] = user(login, next(self._ids), kind)
        if token:
            self.tokens[token] = login
        return self.users[login]

    def add_app(self, app_id: int, slug: str, public_key: str) -> None:
        """Accept JWTs signed by the app's key; mint installation tokens for `slug[bot]`."""
        self.app = {"id": app_id, "slug": slug, "public_key": public_key}
        self.add_user(f"{slug}[bot]", kind="Bot")

    def add_repo(self, full_name: str, default_branch: str = "main") -> dict[str, Any]:
        owner, name = full_name.split("/")
        if owner not in self.users:
            self.add_user(owner)
        rid = next(self._ids)
        base = f"{API}/repos/{full_name}"
        self.repos[full_name] = {
            "id": rid,
            "node_id": f"R_{rid}",
            "name": name,
            "full_name": full_name,
            "private": False,
            "owner": self.users[owner],
            "html_url": f"{WEB}/{full_name}",
            "description": None,
            "fork": False,
            "url": base,
            **{f"{key}_url": f"{base}/{path}" for key, path in REPO_URLS.items()},
            "git_url": f"git://github.com/{full_name}.git",
            "ssh_url": f"git@github.com:{full_name}.git",
            "clone_url": f"{WEB}/{full_name}.git",
            "svn_url": f"{WEB}/{full_name}",
            "mirror_url": None,
            "homepage": None,
            "language": "Python",
            "license": None,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 1,
            "default_branch": default_branch,
            "open_issues_count": 0,
            "open_issues": 0,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "public",
            "pushed_at": STAMP,
            "created_at": STAMP,
            "updated_at": STAMP,
            "subscribers_count": 0,
            "network_count": 0,
        }
        return self.repos[full_name]

    def add_issue(self, full_name: str, title: str, body: str, author: str) -> dict[str, Any]:
        number = 1 + sum(1 for r, _ in list(self.issues) + list(self.pulls) if r == full_name)
        iid = next(self._ids)
        base = f"{API}/repos/{full_name}/issues/{number}"
        issue = {
            "id": iid,
            "node_id": f"I_{iid}",
            "url": base,
            "repository_url": f"{API}/repos/{full_name}",
            "labels_url": f"{base}/labels{{/name}}",
            "comments_url": f"{base}/comments",
            "events_url": f"{base}/events",
            "html_url": f"{WEB}/{full_name}/issues/{number}",
            "number": number,
            "state": "open",
            "title": title,
            "body": body,
            "user": self.users[author],
            "labels": [],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": 0,
            "closed_at": None,
            "created_at": STAMP,
            "updated_at": STAMP,
            "author_association": "NONE",
            "state_reason": None,
            "reactions": _reactions(f"{base}/reactions"),
        }
        self.issues[(full_name, number)] = issue
        return issue

    # -- webhook payloads -------------------------------------------------------------------
    def label_event(self, full_name: str, number: int, sender: str, label: str) -> dict:
        issue = self.issues[(full_name, number)]
        added = self._label(full_name, label)
        if added not in issue["labels"]:
            issue["labels"].append(added)
        return {
            "action": "labeled",
            "issue": issue,
            "label": added,
            "repository": self.repos[full_name],
            "sender": self.users[sender],
        }

    def comment_event(self, full_name: str, number: int, sender: str, body: str) -> dict:
        comment = self._new_comment(full_name, number, sender, body)
        return {
            "action": "created",
            "issue": self.issues[(full_name, number)],
            "comment": comment,
            "repository": self.repos[full_name],
            "sender": self.users[sender],
        }

    def ping_event(self, full_name: str) -> dict:
        return {
            "zen": "Keep it logically awesome.",
            "hook_id": 1,
            "hook": {
                "type": "Repository",
                "id": 1,
                "name": "web",
                "active": True,
                "events": ["issues", "issue_comment"],
                "config": {"content_type": "json", "insecure_ssl": "0", "url": "http://x"},
                "created_at": STAMP,
                "updated_at": STAMP,
            },
            "repository": self.repos[full_name],
            "sender": self.users[self.repos[full_name]["owner"]["login"]],
        }

    # -- queries for tests ------------------------------------------------------------------
    def issue_comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        url = f"{API}/repos/{full_name}/issues/{number}"
        return [c for c in self.comments.values() if c["issue_url"] == url]

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    # -- server -----------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- helpers ----------------------------------------------------------------------------
    def _label(self, full_name: str, name: str) -> dict[str, Any]:
        lid = sum(ord(c) for c in name) + 7000
        return {
            "id": lid,
            "node_id": f"LA_{lid}",
            "name": name,
            "color": "5319e7",
            "default": False,
            "description": None,
            "url": f"{API}/repos/{full_name}/labels/{name}",
            "archived_at": None,
            "archived_by": None,
        }

    def _new_comment(self, full_name: str, number: int, login: str, body: str) -> dict:
        cid = next(self._ids)
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{API}/repos/{full_name}/issues/comments/{cid}",
            "html_url": f"{WEB}/{full_name}/issues/{number}#issuecomment-{cid}",
            "body": body,
            "user": self.users[login],
            "created_at": STAMP,
            "updated_at": STAMP,
            "issue_url": f"{API}/repos/{full_name}/issues/{number}",
            "author_association": "NONE",
            "performed_via_github_app": None,
            "reactions": _reactions(f"{API}/repos/{full_name}/issues/comments/{cid}/reactions"),
        }
        self.comments[cid] = comment
        self.issues[(full_name, number)]["comments"] += 1
        return comment

    def _branch_exists(self, full_name: str, branch: str) -> bool:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.bare_root / f"{full_name}.git",
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def _new_pull(self, full_name: str, who: str, body: dict[str, Any]) -> tuple[int, dict]:
        head, base = body.get("head", ""), body.get("base", "")
        if not head or not base or not body.get("title"):
            return 422, _invalid("head, base and title are required")
        if not self._branch_exists(full_name, head.split(":")[-1]):
            return 422, _invalid(f"head {head!r} is not a branch of {full_name}")
        branch = head.split(":")[-1]
        for pull in self.pulls.values():
            if pull["head"]["ref"] == branch and pull["state"] == "open":
                return 422, _invalid(f"A pull request already exists for {head}.")
        number = 1 + sum(1 for r, _ in list(self.issues) + list(self.pulls) if r == full_name)
        pid = next(self._ids)
        repo = self.repos[full_name]
        sha = subprocess.run(
            ["git", "rev-parse", f"refs/heads/{branch}"],
            cwd=self.bare_root / f"{full_name}.git",
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        url = f"{API}/repos/{full_name}/pulls/{number}"
        pull = {
            "url": url,
            "id": pid,
            "node_id": f"PR_{pid}",
            "html_url": f"{WEB}/{full_name}/pull/{number}",
            "diff_url": f"{WEB}/{full_name}/pull/{number}.diff",
            "patch_url": f"{WEB}/{full_name}/pull/{number}.patch",
            "issue_url": f"{API}/repos/{full_name}/issues/{number}",
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{API}/repos/{full_name}/pulls/comments{{/number}}",
            "comments_url": f"{API}/repos/{full_name}/issues/{number}/comments",
            "statuses_url": f"{API}/repos/{full_name}/statuses/{sha}",
            "_links": {
                name: {"href": href}
                for name, href in (
                    ("self", url),
                    ("html", f"{WEB}/{full_name}/pull/{number}"),
                    ("issue", f"{API}/repos/{full_name}/issues/{number}"),
                    ("comments", f"{API}/repos/{full_name}/issues/{number}/comments"),
                    ("review_comments", f"{url}/comments"),
                    ("review_comment", f"{API}/repos/{full_name}/pulls/comments{{/number}}"),
                    ("commits", f"{url}/commits"),
                    ("statuses", f"{API}/repos/{full_name}/statuses/{sha}"),
                )
            },
            "number": number,
            "state": "open",
            "locked": False,
            "title": body["title"],
            "user": self.users[who],
            "body": body.get("body"),
            "labels": [],
            "milestone": None,
            "created_at": STAMP,
            "updated_at": STAMP,
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "head": {
                "label": f"{repo['owner']['login']}:{branch}",
                "ref": branch,
                "sha": sha,
                "user": repo["owner"],
                "repo": repo,
            },
            "base": {
                "label": f"{repo['owner']['login']}:{base}",
                "ref": base,
                "sha": "",
                "user": repo["owner"],
                "repo": repo,
            },
            "author_association": "NONE",
            "draft": bool(body.get("draft", False)),
            "merged": False,
            "mergeable": None,
            "mergeable_state": "unknown",
            "merged_by": None,
            "auto_merge": None,
            "maintainer_can_modify": False,
            "comments": 0,
            "review_comments": 0,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }
        self.pulls[(full_name, number)] = pull
        return 201, pull


def _reactions(url: str) -> dict[str, Any]:
    counts = dict.fromkeys(
        ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0
    )
    return {"url": url, "total_count": 0, **counts}


def _invalid(message: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom", "message": message}],
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        "status": "422",
    }


REPO_URLS = {
    "archive": "{archive_format}{/ref}",
    "assignees": "assignees{/user}",
    "blobs": "git/blobs{/sha}",
    "branches": "branches{/branch}",
    "collaborators": "collaborators{/collaborator}",
    "comments": "comments{/number}",
    "commits": "commits{/sha}",
    "compare": "compare/{base}...{head}",
    "contents": "contents/{+path}",
    "contributors": "contributors",
    "deployments": "deployments",
    "downloads": "downloads",
    "events": "events",
    "forks": "forks",
    "git_commits": "git/commits{/sha}",
    "git_refs": "git/refs{/sha}",
    "git_tags": "git/tags{/sha}",
    "hooks": "hooks",
    "issue_comment": "issues/comments{/number}",
    "issue_events": "issues/events{/number}",
    "issues": "issues{/number}",
    "keys": "keys{/key_id}",
    "labels": "labels{/name}",
    "languages": "languages",
    "merges": "merges",
    "milestones": "milestones{/number}",
    "notifications": "notifications{?since,all,participating}",
    "pulls": "pulls{/number}",
    "releases": "releases{/id}",
    "stargazers": "stargazers",
    "statuses": "statuses/{sha}",
    "subscribers": "subscribers",
    "subscription": "subscription",
    "tags": "tags",
    "teams": "teams",
    "trees": "git/trees{/sha}",
}
NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest",
    "status": "404",
}
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), name)
    for m, p, name in [
        ("GET", r"^/user$", "get_user"),
        ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)$", "get_repo"),
        (
            "GET",
            r"^/repos/(?P<repo>[^/]+/[^/]+)/collaborators/(?P<username>[^/]+)/permission$",
            "get_permission",
        ),
        ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)$", "get_issue"),
        ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$", "list_comments"),
        (
            "POST",
            r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$",
            "create_comment",
        ),
        ("PATCH", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<cid>\d+)$", "update_comment"),
        (
            "POST",
            r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<cid>\d+)/reactions$",
            "create_reaction",
        ),
        ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/labels$", "list_labels"),
        ("POST", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/labels$", "add_labels"),
        ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls$", "list_pulls"),
        ("POST", r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls$", "create_pull"),
        ("PATCH", r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<number>\d+)$", "update_pull"),
        ("POST", r"^/graphql$", "graphql"),
    ]
]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            auth = self.headers.get("Authorization", "")
            with fake._lock:
                fake.calls.append(Call(self.command, parts.path, query, body, auth))
                if parts.path.startswith("/app"):
                    self._send(*self.as_app(parts.path, auth))
                    return
                login = fake.tokens.get(auth.split(" ", 1)[-1]) if auth else None
                if login is None:
                    self._send(
                        401,
                        {
                            "message": "Bad credentials",
                            "status": "401",
                            "documentation_url": "https://docs.github.com/rest",
                        },
                    )
                    return
                for method, pattern, name in ROUTES:
                    match = pattern.match(parts.path)
                    if match and method == self.command:
                        status, answer = getattr(self, name)(
                            login, query, body, **match.groupdict()
                        )
                        self._send(status, answer)
                        return
                self._send(404, NOT_FOUND)

        do_GET = do_POST = do_PATCH = _dispatch

        def as_app(self, path: str, auth: str) -> tuple[int, Any]:
            """`/app` and `/app/installations/{id}/access_tokens`, for a valid app JWT only."""
            import jwt

            if fake.app is None or not auth.startswith("Bearer "):
                return 401, {"message": "A JSON web token could not be decoded", "status": "401"}
            try:
                claims = jwt.decode(auth[7:], fake.app["public_key"], algorithms=["RS256"])
            except jwt.PyJWTError:
                return 401, {"message": "A JSON web token could not be decoded", "status": "401"}
            if str(claims.get("iss")) != str(fake.app["id"]):
                return 401, {"message": "Integration not found", "status": "401"}
            slug = fake.app["slug"]
            if path == "/app":
                return 200, {
                    "id": fake.app["id"],
                    "slug": slug,
                    "node_id": "A_1",
                    "name": slug,
                    "owner": fake.users[f"{slug}[bot]"],
                    "description": "",
                    "external_url": WEB,
                    "html_url": f"{WEB}/apps/{slug}",
                    "created_at": STAMP,
                    "updated_at": STAMP,
                    "permissions": {
                        "contents": "write",
                        "issues": "write",
                        "pull_requests": "write",
                    },
                    "events": ["issues", "issue_comment"],
                }
            if re.fullmatch(r"/app/installations/\d+/access_tokens", path):
                token = f"ghs_installation{next(fake._ids)}abcdefghijklmnop"
                fake.tokens[token] = f"{slug}[bot]"
                return 201, {
                    "token": token,
                    "expires_at": "2099-01-01T00:00:00Z",
                    "permissions": {"contents": "write", "issues": "write"},
                    "repository_selection": "selected",
                }
            return 404, NOT_FOUND

        def get_user(self, login: str, query: dict, body: Any) -> tuple[int, Any]:
            profile = dict.fromkeys(("name", "company", "location", "email", "hireable", "bio"))
            counts = dict.fromkeys(("public_repos", "public_gists", "followers", "following"), 0)
            stamps = {"created_at": STAMP, "updated_at": STAMP, "blog": ""}
            return 200, fake.users[login] | profile | counts | stamps

        def get_repo(self, login: str, query: dict, body: Any, repo: str) -> tuple[int, Any]:
            return (200, fake.repos[repo]) if repo in fake.repos else (404, NOT_FOUND)

        def get_permission(self, login: str, query: dict, body: Any, repo: str, username: str):
            who = username
            if who not in fake.users:
                return 404, NOT_FOUND
            level = fake.permissions.get((repo, who), "read")
            permission = {"maintain": "write", "triage": "read"}.get(level, level)
            collaborator = fake.users[who] | {"role_name": level}
            return 200, {"permission": permission, "role_name": level, "user": collaborator}

        def get_issue(self, login: str, query: dict, body: Any, repo: str, number: str):
            issue = fake.issues.get((repo, int(number)))
            return (200, issue) if issue else (404, NOT_FOUND)

        def list_comments(self, login: str, query: dict, body: Any, repo: str, number: str):
            found = fake.issue_comments(repo, int(number))
            size, page = int(query.get("per_page", 30)), int(query.get("page", 1))
            return 200, found[(page - 1) * size : page * size]

        def create_comment(self, login: str, query: dict, body: Any, repo: str, number: str):
            if (repo, int(number)) not in fake.issues:
                return 404, NOT_FOUND
            return 201, fake._new_comment(repo, int(number), login, body["body"])

        def update_comment(self, login: str, query: dict, body: Any, repo: str, cid: str):
            comment = fake.comments.get(int(cid))
            if comment is None:
                return 404, NOT_FOUND
            if comment["user"]["login"] != login:
                return 403, {"message": "Resource not accessible by integration", "status": "403"}
            comment.update(body=body["body"], updated_at=STAMP)
            return 200, comment

        def create_reaction(self, login: str, query: dict, body: Any, repo: str, cid: str):
            key = (int(cid), login, body["content"])
            if key in fake.reactions:
                return 200, fake.reactions[key]
            fake.reactions[key] = {
                "id": next(fake._ids),
                "node_id": "REA_1",
                "user": fake.users[login],
                "content": body["content"],
                "created_at": STAMP,
            }
            return 201, fake.reactions[key]

        def list_labels(self, login: str, query: dict, body: Any, repo: str, number: str):
            return 200, fake.issues[(repo, int(number))]["labels"]

        def add_labels(self, login: str, query: dict, body: Any, repo: str, number: str):
            issue = fake.issues[(repo, int(number))]
            for name in body["labels"]:
                label = fake._label(repo, name)
                if label not in issue["labels"]:
                    issue["labels"].append(label)
            return 200, issue["labels"]

        def list_pulls(self, login: str, query: dict, body: Any, repo: str):
            found = [p for (r, _), p in fake.pulls.items() if r == repo]
            if query.get("state", "open") != "all":
                found = [p for p in found if p["state"] == query.get("state", "open")]
            if "head" in query:
                found = [p for p in found if p["head"]["label"] == query["head"]]
            return 200, found

        def create_pull(self, login: str, query: dict, body: Any, repo: str):
            return fake._new_pull(repo, login, body)

        def update_pull(self, login: str, query: dict, body: Any, repo: str, number: str):
            pull = fake.pulls.get((repo, int(number)))
            if pull is None:
                return 404, NOT_FOUND
            pull.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
            return 200, pull

        def graphql(self, login: str, query: dict, body: Any):
            if "markPullRequestReadyForReview" not in body.get("query", ""):
                return 200, {"errors": [{"message": "unsupported by the fake"}]}
            for pull in fake.pulls.values():
                if pull["node_id"] == body["variables"]["id"]:
                    pull["draft"] = False
                    return 200, {
                        "data": {
                            "markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}
                        }
                    }
            return 200, {"data": None, "errors": [{"type": "NOT_FOUND", "message": "no node"}]}

    return Handler
