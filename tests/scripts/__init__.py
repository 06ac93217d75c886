"""Scripted model sessions (tool calls a model would make) for end-to-end tests."""
