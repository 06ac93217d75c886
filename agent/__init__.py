"""backend-agent: a one-line request in, a verified commit of a FastAPI backend out.

The public entry points are `agent.api.start_run` and `agent.api.resume_run`; the CLI, the
GitHub bot and the eval harness all go through them. Imports stay lazy so `--help` is quick."""

__version__ = "0.1.0"
