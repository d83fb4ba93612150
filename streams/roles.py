"""Worker roles: which parts of the app a worker runs, chosen by WORKER_ROLE (`worker --role` sets it).

A part is registered on the app by importing its module (an agent, a table, a timer, a view, a provided
service), and Faust's autodiscovery imports the modules listed here for the worker's role, so a role runs
exactly these and nothing else:

* all: everything in one process (what `taskstream dev` and Minikube run).
* web: the HTTP API, WebSockets and the gateway that feeds them, and the outbox relay, so a write
  committed here is published right after commit. Scales with users, behind a load balancer.
* stream: the agents, the tables and the relay (whose sweep publishes what a web worker left behind);
  of the web server only /health, /ready and /metrics. Scales with events, up to the partition count.
"""

from __future__ import annotations

from typing import MutableMapping, Sequence

from .settings import WORKER_ROLES, ConfigError

MODULES: dict[str, tuple[str, ...]] = {
    "all": ("agents", "tables", "web"),
    "web": ("agents.outbox_relay", "web"),
    # web.startup: the middleware (JSON errors, request metrics) for the three routes left.
    "stream": ("agents", "tables", "web.startup", "web.views.health", "web.views.metrics"),
}
#: The subcommand that takes --role.
WORKER_COMMAND = "worker"


def role_flag(argv: Sequence[str]) -> str | None:
    """The value of `--role` given to the worker subcommand in argv, or None.

    Read before the command line is parsed: Faust imports the app's modules (autodiscovery, which
    the role decides) before it parses the command line. Click parses it again afterwards, for
    --help and for the same answer (see the worker command)."""
    args = list(argv[1:])
    if WORKER_COMMAND not in args:
        return None
    args = args[args.index(WORKER_COMMAND) + 1:]
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--role":
            if index + 1 >= len(args):
                raise ConfigError(f"--role needs a value: one of {', '.join(WORKER_ROLES)}")
            return args[index + 1]
        if arg.startswith("--role="):
            return arg.partition("=")[2]
    return None


def apply_role_flag(argv: Sequence[str], environ: MutableMapping[str, str]) -> None:
    """`worker --role R` sets WORKER_ROLE=R, so the setting is read in one place (streams/settings.py)
    and whatever the worker starts inherits it."""
    role = role_flag(argv)
    if role is None:
        return
    if role.strip().lower() not in WORKER_ROLES:
        raise ConfigError(f"--role must be one of {', '.join(WORKER_ROLES)}; got {role!r}")
    environ["WORKER_ROLE"] = role.strip().lower()


def discovery_modules(role: str) -> list[str]:
    """What autodiscovery imports for ROLE, besides the app's own package (the commands, the topics)."""
    return ["streams.cli.commands", *MODULES[role]]
