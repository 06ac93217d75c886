"""The bot's view of the GitHub REST API, on githubkit: authentication (one token, or a GitHub
App whose installation tokens githubkit mints and refreshes), retries and rate limits are the
library's. Answers are read as plain JSON rather than githubkit's strict models, so a GitHub
Enterprise Server that omits a field newer than itself does not break the bot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
ACTIONS_BOT = "github-actions[bot]"


@dataclass(frozen=True)
class Credentials:
    """One token (`GITHUB_TOKEN`: Actions' or a personal one), or a GitHub App's id and key."""

    token: str | None = None
    app_id: str | None = None
    private_key: str | None = None

    @property
    def is_app(self) -> bool:
        return bool(self.app_id and self.private_key)

    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.private_key) if s]


class GitHub:
    """The calls the bot makes on one repository, authenticated for it."""

    def __init__(
        self, api_url: str, credentials: Credentials, installation_id: int | None = None
    ) -> None:
        from githubkit import AppAuthStrategy, TokenAuthStrategy
        from githubkit import GitHub as Kit

        self.credentials = credentials
        self.installation_id = installation_id
        options: dict[str, Any] = {"base_url": api_url, "http_cache": False, "timeout": 30.0}
        if credentials.is_app:
            app = AppAuthStrategy(str(credentials.app_id), str(credentials.private_key))
            self._app = Kit(app, **options)
            if installation_id is None:
                raise ValueError("a GitHub App needs the event's installation id")
            self.kit = Kit(app.as_installation(installation_id), **options)
        elif credentials.token:
            self.kit = Kit(TokenAuthStrategy(credentials.token), **options)
        else:
            raise ValueError(
                "no GitHub credentials: set GITHUB_TOKEN, or GITHUB_APP_ID and "
                "GITHUB_APP_PRIVATE_KEY"
            )

    def push_token(self) -> str:
        """A token for `git push`: the one token, or a fresh installation token."""
        if not self.credentials.is_app:
            return str(self.credentials.token)
        minted = self._app.rest.apps.create_installation_access_token(
            int(self.installation_id or 0)
        )
        return str(minted.json()["token"])

    def login(self) -> str:
        """Who the bot is on GitHub, to recognise its own comments."""
        from githubkit.exception import RequestFailed

        if self.credentials.is_app:
            return f"{self._app.rest.apps.get_authenticated().json()['slug']}[bot]"
        try:
            return str(self.kit.rest.users.get_authenticated().json()["login"])
        except RequestFailed as exc:  # Actions' GITHUB_TOKEN may not read /user
            if exc.response.status_code in (401, 403, 404):
                return ACTIONS_BOT
            raise

    def repository(self, owner: str, name: str) -> dict[str, Any]:
        return self.kit.rest.repos.get(owner, name).json()

    def permission(self, owner: str, name: str, user: str) -> str:
        """`admin`, `maintain`, `write`, `triage`, `read` or `none`."""
        from githubkit.exception import RequestFailed

        try:
            data = self.kit.rest.repos.get_collaborator_permission_level(owner, name, user).json()
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return "none"
            raise
        return str(data.get("role_name") or data.get("permission") or "none")

    def issue(self, owner: str, name: str, number: int) -> dict[str, Any]:
        return self.kit.rest.issues.get(owner, name, number).json()

    def comments(self, owner: str, name: str, number: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, 100):
            batch = self.kit.rest.issues.list_comments(
                owner, name, number, per_page=100, page=page
            ).json()
            found.extend(batch)
            if len(batch) < 100:
                break
        return found

    def comment(self, owner: str, name: str, number: int, body: str) -> dict[str, Any]:
        return self.kit.rest.issues.create_comment(owner, name, number, body=body).json()

    def edit_comment(self, owner: str, name: str, comment_id: int, body: str) -> None:
        self.kit.rest.issues.update_comment(owner, name, comment_id, body=body)

    def react(self, owner: str, name: str, comment_id: int, content: str = "eyes") -> None:
        self.kit.rest.reactions.create_for_issue_comment(owner, name, comment_id, content=content)

    def open_pull(self, owner: str, name: str, branch: str) -> dict[str, Any] | None:
        pulls = self.kit.rest.pulls.list(owner, name, state="open", head=f"{owner}:{branch}")
        found = pulls.json()
        return found[0] if found else None

    def create_pull(self, owner: str, name: str, **fields: Any) -> dict[str, Any]:
        return self.kit.rest.pulls.create(owner, name, **fields).json()

    def update_pull(self, owner: str, name: str, number: int, **fields: Any) -> dict[str, Any]:
        return self.kit.rest.pulls.update(owner, name, number, **fields).json()

    def mark_ready(self, node_id: str) -> None:
        """A draft pull request turns ready for review through GraphQL only."""
        self.kit.graphql(
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id})"
            " { pullRequest { isDraft } } }",
            variables={"id": node_id},
        )
