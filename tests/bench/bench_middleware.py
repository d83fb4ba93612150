"""Benchmark: what the middleware costs per request, with the access log off and on, for a trivial handler.

Run: .venv/bin/python tests/bench/bench_middleware.py [--requests 5000] [--repeat 5] [--label NAME]
Builds a small aiohttp app with web.middleware.middlewares() (rate limits on with buckets too big to
refuse, an HS256 bearer token as a client sends on every request, so the verified-token cache answers)
and two trivial routes: /api/things (authenticated) and /plain (no token). Two measurements:

- in process: `Application._handle` on prepared requests, so only routing, the middleware and the
  handler run; the same with no middleware at all is the floor. CPU µs per request, median of rounds.
- over aiohttp's test server: one keep-alive connection sending requests one after another (raw bytes,
  so the client costs little); CPU (client and server share the process) and wall-clock µs per request.

Each runs with the access log disabled (taskstream.access at WARNING) and enabled (INFO, formatted as
JSON to /dev/null, as the worker logs). Writes tests/bench/results/middleware[-LABEL].json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from streams.logs import ContextFilter, JsonFormatter  # noqa: E402
from streams.settings import from_env  # noqa: E402
from web import auth  # noqa: E402
from web.middleware import middlewares  # noqa: E402

SECRET = "bench-secret-0123456789abcdefghijklmnop"
HUGE = "1000000/s:1000000"


async def things(request: web.Request) -> web.Response:
    return web.Response(body=b'{"ok":true}', content_type="application/json")


def build_app(with_middleware: bool) -> web.Application:
    settings = from_env({"JWT_SECRET": SECRET, "RATE_LIMIT": f"writes={HUGE},reads={HUGE},address={HUGE}"})
    auth._verifier = lambda: (SECRET, settings, None)  # type: ignore[assignment]
    app = web.Application(middlewares=middlewares(settings) if with_middleware else ())
    app.router.add_get("/api/things", things)
    app.router.add_get("/plain", things)
    return app


def access_log(enabled: bool) -> None:
    logger = logging.getLogger("taskstream.access")
    logger.handlers.clear()
    logger.propagate = False
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if enabled else logging.WARNING)


def median_rounds(rounds: list[float]) -> float:
    return round(statistics.median(rounds), 2)


async def in_process(app: web.Application, path: str, headers: dict[str, str], n: int, repeat: int) -> float:
    """CPU µs per request through Application._handle (routing + middleware + handler)."""
    app.freeze()
    cpu = []
    for _ in range(repeat):
        requests = [make_mocked_request("GET", path, headers=headers, app=app) for _ in range(n)]
        started = time.process_time()
        for request in requests:
            response = await app._handle(request)
        cpu.append((time.process_time() - started) / n * 1e6)
        assert response.status == 200, response.status
    return median_rounds(cpu)


async def over_server(server: TestServer, path: str, headers: dict[str, str], n: int,
                      repeat: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per request on one keep-alive connection, one request at a time."""
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    cpu, wall = [], []
    try:
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                writer.write(request)
                status = await read_response(reader)
            cpu.append((time.process_time() - started_cpu) / n * 1e6)
            wall.append((time.perf_counter() - started) / n * 1e6)
            assert status == 200, status
    finally:
        writer.close()
    return median_rounds(cpu), median_rounds(wall)


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def run(n: int, repeat: int) -> dict[str, Any]:
    now = int(time.time())
    token = jwt.encode({"sub": "bench-user", "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")
    cases = {"api": ("/api/things", {"Authorization": f"Bearer {token}"}), "plain": ("/plain", {})}
    results: dict[str, Any] = {}
    for where in ("in_process", "server"):
        for log_on in (False, True):
            access_log(log_on)
            for chain in (False, True):
                if not chain and log_on:
                    continue  # without the middleware nothing writes the access log
                for case, (path, headers) in cases.items():
                    key = f"{where}_{case}_{'middleware' if chain else 'none'}" + ("_log" if log_on else "")
                    app = build_app(chain)
                    if where == "in_process":
                        results[f"{key}_cpu_us"] = await in_process(app, path, headers, n, repeat)
                    else:
                        server = TestServer(app, host="127.0.0.1")
                        await server.start_server()
                        try:
                            await over_server(server, path, headers, min(n, 500), 1)  # warm up
                            results[f"{key}_cpu_us"], results[f"{key}_wall_us"] = await over_server(
                                server, path, headers, n, repeat)
                        finally:
                            await server.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000, help="requests per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the median is reported")
    parser.add_argument("--label", default="", help="suffix of the result file (e.g. before, after)")
    args = parser.parse_args()

    results = asyncio.run(run(args.requests, args.repeat))
    results.update(requests=args.requests, repeat=args.repeat, load_average=list(os.getloadavg()))
    print(f"middleware, µs per request - median of {args.repeat} rounds of {args.requests}; "
          f"load average {results['load_average'][0]:.1f}")
    for where, what in (("in_process", "CPU"), ("server", "CPU (wall)")):
        print(f"{where} ({what}):")
        for case in ("api", "plain"):
            cells = []
            for variant in ("none", "middleware", "middleware_log"):
                cpu = results[f"{where}_{case}_{variant}_cpu_us"]
                wall = results.get(f"{where}_{case}_{variant}_wall_us")
                cells.append(f"{variant} {cpu:7.2f}" + (f" ({wall:7.2f})" if wall is not None else ""))
            print(f"  {case:5}: " + "   ".join(cells))
    output = ROOT / "tests" / "bench" / "results" / f"middleware{'-' + args.label if args.label else ''}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
