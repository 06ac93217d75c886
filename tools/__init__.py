"""Tools the model can call. They know nothing of the CLI or the runner: each one takes a
`Workspace` and the model's input, and answers with a `ToolResult`."""

from tools.base import Tool, ToolError, ToolResult, Workspace

__all__ = ["Tool", "ToolError", "ToolResult", "Workspace"]
