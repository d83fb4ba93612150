"""Benchmark: what verifying a request's bearer token costs, cold (a token not seen before) and cached.

Run: .venv/bin/python tests/bench/bench_auth.py [--tokens 2000] [--repeat 5]
Calls web.auth.verify_token in-process (no server) for HS256 tokens (JWT_SECRET) and RS256 tokens
(a key set held as JWT_JWKS_URL's would be, no fetching): `cold` verifies distinct tokens once each,
`cached` verifies one token over and over, as a client does on every request. Prints CPU and wall-clock
microseconds per verification (the median of REPEAT rounds) and writes tests/bench/results/auth.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from streams.settings import from_env  # noqa: E402
from web import auth  # noqa: E402

SECRET = "bench-secret-0123456789abcdefghijklmnop"
KID = "bench-key"


class LocalKeys(auth.JwksKeys):
    """A JWKS key set already in PyJWKClient's cache (the URL is never fetched)."""

    def __init__(self, public_jwk: dict[str, Any]) -> None:
        super().__init__("http://127.0.0.1:9/jwks.json")
        self.client.jwk_set_cache.put({"keys": [public_jwk]})


def forget() -> None:
    """Empty the verified-token cache, where there is one."""
    cache = getattr(auth, "verified_tokens", None)
    if cache is not None:
        cache.clear()


def per_call_us(tokens: list[str], repeat: int, before_each_round: Callable[[], None]) -> tuple[float, float]:
    """(CPU µs, wall-clock µs) per call, each the median of the rounds. CPU time is what to compare on a
    busy machine: wall-clock time there includes waiting for a core."""
    cpu, wall = [], []
    for _ in range(repeat):
        before_each_round()
        started, started_cpu = time.perf_counter(), time.process_time()
        for token in tokens:
            auth.verify_token(token)
        cpu.append((time.process_time() - started_cpu) / len(tokens) * 1e6)
        wall.append((time.perf_counter() - started) / len(tokens) * 1e6)
    return round(statistics.median(cpu), 2), round(statistics.median(wall), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=2000, help="distinct tokens a cold round verifies")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the median is reported")
    parser.add_argument("--output", type=Path, default=ROOT / "tests" / "bench" / "results" / "auth.json")
    args = parser.parse_args()

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key())), "kid": KID, "use": "sig"}
    settings = from_env({"JWT_SECRET": SECRET})
    keys = LocalKeys(public_jwk)
    auth._verifier = lambda: (SECRET, settings, keys)

    now = int(time.time())
    claims = [{"sub": f"user-{i}", "iat": now, "nbf": now, "exp": now + 3600} for i in range(args.tokens)]
    hs256 = [jwt.encode(c, SECRET, algorithm="HS256") for c in claims]
    rs256 = [jwt.encode(c, private, algorithm="RS256", headers={"kid": KID}) for c in claims]

    results: dict[str, Any] = {"cache": hasattr(auth, "verified_tokens"), "tokens": args.tokens, "repeat": args.repeat}
    for name, tokens in (("hs256", hs256), ("rs256", rs256)):
        results[f"{name}_cold_cpu_us"], results[f"{name}_cold_wall_us"] = per_call_us(tokens, args.repeat, forget)
        one = [tokens[0]] * args.tokens
        auth.verify_token(tokens[0])  # the first use verifies; what follows is what a client's next requests cost
        results[f"{name}_cached_cpu_us"], results[f"{name}_cached_wall_us"] = per_call_us(one, args.repeat, lambda: None)
    results["load_average"] = list(os.getloadavg())

    print(f"token verification, µs per call, CPU (wall clock) - median of {args.repeat} rounds of {args.tokens}; "
          f"cache {'on' if results['cache'] else 'absent'}; load average {results['load_average'][0]:.1f}:")
    for name in ("hs256", "rs256"):
        print(f"  {name}: cold {results[f'{name}_cold_cpu_us']:8.2f} ({results[f'{name}_cold_wall_us']:8.2f})   "
              f"cached {results[f'{name}_cached_cpu_us']:8.2f} ({results[f'{name}_cached_wall_us']:8.2f})")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
