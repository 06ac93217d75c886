"""The GitHub issue bot: a labelled issue (or a `/backend-agent` comment) becomes a verified pull
request. It runs one event at a time (`backend-agent github handle`, for GitHub Actions) or as a
webhook server with a durable queue (`backend-agent github serve`), and calls `agent.api` only."""
