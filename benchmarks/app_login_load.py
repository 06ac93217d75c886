"""Does a generated app stay responsive while it hashes passwords? `GET /auth/me` latency under
a login load, as a ratio to its latency when idle, measured in the same run.

Setup: a fresh `backend-agent new` project (or `--project DIR`, e.g. one made by an older
scaffold), migrated on an embedded PostgreSQL, served by uvicorn (one worker, bcrypt at its
default cost). One logged-in client probes `GET /auth/me` every 100 ms: first alone (idle),
then while `--concurrency` clients log in back to back for `--seconds` (load).

Prints the probe's p99 under load / idle p99 (goal <= 5) and the logins per second.

Run: python benchmarks/app_login_load.py [--seconds 10] [--concurrency 20] [--project DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import verdict

from agent.postgres import EmbeddedPostgres
from agent.scaffold import create_project

TARGET = 5.0
PROBE_INTERVAL = 0.1
USER = {"email": "load@example.com", "password": "a-long-password"}
PROBE_USER = {"email": "probe@example.com", "password": "a-long-password"}


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def probe(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    """`GET /auth/me` every 100 ms until `stop`; the latencies in seconds."""
    latencies = []
    while not stop.is_set():
        start = time.perf_counter()
        response = await client.get("/auth/me")
        latencies.append(time.perf_counter() - start)
        response.raise_for_status()
        await asyncio.sleep(max(0.0, PROBE_INTERVAL - latencies[-1]))
    return latencies


async def log_in_repeatedly(base: str, stop: asyncio.Event) -> int:
    count = 0
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while not stop.is_set():
            response = await client.post("/auth/login", json=USER)
            response.raise_for_status()
            count += 1
    return count


async def measure(base: str, seconds: float, concurrency: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as prober:
        for user in (USER, PROBE_USER):
            (await prober.post("/auth/register", json=user)).raise_for_status()
        (await prober.post("/auth/login", json=PROBE_USER)).raise_for_status()
        stop = asyncio.Event()
        idle_task = asyncio.create_task(probe(prober, stop))
        await asyncio.sleep(seconds / 2)
        stop.set()
        idle = await idle_task

        stop = asyncio.Event()
        loaded_task = asyncio.create_task(probe(prober, stop))
        loaders = [asyncio.create_task(log_in_repeatedly(base, stop)) for _ in range(concurrency)]
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        logins = sum(await asyncio.gather(*loaders))
        elapsed = time.perf_counter() - start
        loaded = await loaded_task
    return {
        "idle_p99": p99(idle),
        "load_p99": p99(loaded),
        "load_max": max(loaded),
        "load_p50": statistics.median(loaded),
        "logins_per_second": logins / elapsed,
        "samples": len(loaded),
    }


def serve(project: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "benchmark-" + "k" * 40}
    env.update(COOKIE_SECURE="false")
    env.pop("BCRYPT_ROUNDS", None)  # the default cost, as in production
    subprocess.run(["alembic", "upgrade", "head"], cwd=project, env=env, check=True)
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)]
    return subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with {server.returncode}")
        try:
            httpx.get(f"{base}/openapi.json", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("uvicorn did not answer within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--project", type=Path, help="an existing generated project")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="login-load-"))
    workdir.chmod(0o755)  # as root the embedded server runs as `nobody`
    try:
        project = args.project.resolve() if args.project else create_project("loadshop", workdir)
        with EmbeddedPostgres(base_dir=workdir) as postgres:
            port = free_port()
            server = serve(project, postgres.create_database("loadshop"), port)
            try:
                base = f"http://127.0.0.1:{port}"
                wait_until_up(base, server)
                result = asyncio.run(measure(base, args.seconds, args.concurrency))
            finally:
                server.terminate()
                server.wait(30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = result["load_p99"] / result["idle_p99"]
    print(f"project: {project if args.project else 'fresh scaffold'}")
    print(f"GET /auth/me p99 idle:       {result['idle_p99'] * 1000:9.1f} ms")
    print(
        f"GET /auth/me p99 under load: {result['load_p99'] * 1000:9.1f} ms "
        f"(p50 {result['load_p50'] * 1000:.1f} ms, max {result['load_max'] * 1000:.1f} ms, "
        f"{result['samples']:.0f} probes)"
    )
    print(f"logins per second:           {result['logins_per_second']:9.1f}")
    print(
        f"ratio load/idle p99:         {ratio:9.2f}  (target <= {TARGET:g}: "
        f"{verdict(ratio, TARGET)})"
    )


if __name__ == "__main__":
    main()
