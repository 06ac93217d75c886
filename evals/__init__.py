"""The eval harness (task suite -> scored table) will live here.

Not built yet: it is a later issue. It is to call `agent.api.start_run` with `worktree=True`
for each task, exactly as the CLI does, and score the outcomes."""
