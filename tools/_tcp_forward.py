"""Run a command with 127.0.0.1:PORT forwarded to a Unix socket, inside the sandbox's own network
namespace, so the test database looks like an ordinary TCP server to every driver.

    python -I -S _tcp_forward.py PORT SOCKET -- COMMAND...

Stdlib only and started with `-I -S` (it runs before every sandboxed command that needs it). It
listens before starting the command, so the first connection cannot race it, and exits with the
command's status: its threads are daemons and die with it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading

_CHUNK = 64 * 1024


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((target, socket.SHUT_WR), (source, socket.SHUT_RD)):
            with contextlib.suppress(OSError):
                sock.shutdown(how)


def _connection(client: socket.socket, path: str) -> None:
    with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
        try:
            upstream.connect(path)
        except OSError:
            return
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_connection, args=(client, path), daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: _tcp_forward.py PORT SOCKET -- COMMAND...", file=sys.stderr)
        return 2
    port, path, command = int(argv[0]), argv[1], argv[3:]
    try:
        listener = socket.create_server(("127.0.0.1", port))
    except OSError as exc:  # the port is taken (shared network): the server itself listens there
        print(f"tcp forward: 127.0.0.1:{port}: {exc.strerror}; not forwarding", file=sys.stderr)
        os.execvp(command[0], command)
    threading.Thread(target=_serve, args=(listener, path), daemon=True).start()
    try:
        return subprocess.call(command)
    except OSError as exc:
        print(f"{command[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.exit(128 - code if code < 0 else code)
