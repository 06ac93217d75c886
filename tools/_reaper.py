"""Killing a command's processes, also after the runner itself died.

`CommandRunner` starts this file once, as `python -I -S _reaper.py`, when its sandbox has no
PID namespace (Landlock, or none): it tells the reaper on stdin which commands are running
("+ PGID MARKER CGROUP VERSION" and "- PGID"). When the runner dies, even by SIGKILL, the pipe
closes and the reaper kills what was still running: the process group, the pids cgroup, and
every process carrying the command's marker. Standard library only, so it starts in ~10 ms;
`tools.process` imports the killing functions from here."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

MARKER_VAR = "BACKEND_AGENT_COMMAND_ID"


def kill_marked(marker: str) -> int:
    """SIGKILL every process whose environment carries the marker, until none is left (a fork
    bomb keeps making new ones for a while). Best effort: a process that rewrote its own
    environment, or exec'd with a fresh one, is not found."""
    needle = f"{MARKER_VAR}={marker}".encode()
    killed = 0
    for _ in range(50):
        found = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as fh:
                    if needle not in fh.read():
                        continue
                os.kill(int(entry.name), signal.SIGKILL)
                found += 1
            except OSError:
                continue
        killed += found
        if not found:
            break
    return killed


def kill_cgroup(group: Path, version: int) -> None:
    """SIGKILL every process of a pids cgroup: at once with cgroup.kill (v2), else one by one
    until it is empty (pids.max bounds how many a fork bomb adds meanwhile)."""
    if version == 2 and (group / "cgroup.kill").exists():
        with contextlib.suppress(OSError):
            (group / "cgroup.kill").write_text("1")
            return
    for _ in range(100):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def kill_command(pgid: int, marker: str, group: str, version: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    if group != "-":
        kill_cgroup(Path(group), version)
    kill_marked(marker)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the end of the pipe ends the reaper
    running: dict[str, list[str]] = {}
    for line in sys.stdin:
        kind, pgid, *rest = line.split()
        if kind == "+":
            running[pgid] = rest
        else:
            running.pop(pgid, None)
    for pgid, (marker, group, version) in running.items():
        kill_command(int(pgid), marker, group, int(version))


if __name__ == "__main__":
    main()
