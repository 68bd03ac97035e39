"""The moving parts of a load run: gunicorn, locust, and a sampler of everyone's CPU.

Each process this module starts is stopped by the context manager that started it, so a
failed run leaves no server behind on the shared machine.
"""

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection
from gunicorn import version_info as gunicorn_version

from insights.loadtest.report import ACCESS_FORMAT

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass
class ServerConfig:
    """gunicorn for the run: its size, where it listens and logs, its environment."""

    port: int
    workers: int
    threads: int
    env: dict[str, str]
    access_log: Path
    error_log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "insights.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--access-logfile",
            str(self.access_log),
            "--access-logformat",
            ACCESS_FORMAT,
            "--error-logfile",
            str(self.error_log),
            # locust reuses a connection after up to 8 s of reading; gunicorn's 2 s default
            # closes it in between and a reuse racing the close fails as a reset. In
            # production the proxy in front holds these connections (nginx: 75 s).
            "--keep-alive",
            "75",
        ]
        if gunicorn_version >= (27,):
            # The default control socket is one path per machine user: two benches collide.
            args.append("--no-control-socket")
        if self.threads > 1:
            args += ["--worker-class", "gthread", "--threads", str(self.threads)]
        return args


def _port_free(port: int) -> bool:
    return not any(
        c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
        for c in psutil.net_connections("tcp")
    )


@contextmanager
def gunicorn(config: ServerConfig, *, ready_timeout: float = 90) -> Iterator[subprocess.Popen]:
    """Start gunicorn, wait until it answers, stop it (SIGTERM, then SIGKILL) on the way out."""
    if not _port_free(config.port):
        raise RuntimeError(f"Port {config.port} is taken: pass another --port.")
    with config.error_log.open("ab") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            config.command(),
            cwd=settings.BASE_DIR,
            env=config.env,
            stdout=stderr,
            stderr=stderr,
        )
    try:
        _wait_ready(config.port, process, ready_timeout)
        yield process
    finally:
        _stop(process)


def _login_page_status(port: int, timeout: float) -> int:
    """The status of GET /accounts/login/ on the loopback (plain HTTP, no URL schemes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/accounts/login/")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _wait_ready(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see its error log.")
        try:
            if _login_page_status(port, 5) == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout:.0f} s.")


def _stop(process: subprocess.Popen, grace: float = 30) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def warm_up(port: int, requests: int) -> None:
    """Let every worker load the URL map and templates before anything is timed."""
    for _ in range(requests):
        _login_page_status(port, 30)


@dataclass
class LocustRun:
    """One headless locust run and the files it writes."""

    host: str
    users: int
    spawn_rate: float
    seconds: int
    think: float
    csv_prefix: Path
    snapshots: Path
    shoppers: Path
    password: str
    pace: str = ""
    log: Path | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            self.host,
            "--users",
            str(self.users),
            "--spawn-rate",
            str(self.spawn_rate),
            "--run-time",
            f"{self.seconds}s",
            "--stop-timeout",
            "10",
            "--csv",
            str(self.csv_prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LOAD_SHOPPERS": str(self.shoppers),
            "LOAD_PASSWORD": self.password,
            "LOAD_THINK": str(self.think),
            "LOAD_PACE": self.pace,
            "LOAD_USERS": str(self.users),
            "LOAD_SPAWN_RATE": str(self.spawn_rate),
            "LOAD_SNAPSHOTS": str(self.snapshots),
        }

    def start(self) -> subprocess.Popen:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command(),
                cwd=settings.BASE_DIR,
                env=self.env(),
                stdout=out,
                stderr=out,
            )
        finally:
            if self.log:
                out.close()


class Sampler(threading.Thread):
    """Every `every` seconds: CPU seconds of each watched process group, of the PostgreSQL
    backends serving this database, of the whole machine, and the load average."""

    def __init__(self, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[dict] = []
        self.groups: dict[str, int] = {}
        self._stop_event = threading.Event()

    def watch(self, group: str, pid: int) -> None:
        self.groups[group] = pid

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                self.samples.append(self._sample())
                self._stop_event.wait(self.every)
            self.samples.append(self._sample())
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def _sample(self) -> dict:
        groups, rss = {}, {}
        pids = {name: _tree(pid) for name, pid in list(self.groups.items())}
        pids["postgres"] = _backend_pids()
        for name, members in pids.items():
            groups[name], rss[name] = _cpu_and_rss(members)
        times = psutil.cpu_times()
        busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        return {
            "at": time.time(),
            "groups": groups,
            "rss": rss,
            "busy": busy,
            "load": os.getloadavg(),
        }


def _tree(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [root.pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _cpu_and_rss(pids: list[int]) -> tuple[dict[int, float], dict[int, int]]:
    """CPU seconds and resident bytes of each process still there."""
    cpu_of, rss_of = {}, {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                cpu, memory = process.cpu_times(), process.memory_info()
        except psutil.NoSuchProcess:
            continue
        cpu_of[pid] = cpu.user + cpu.system
        rss_of[pid] = memory.rss
    return cpu_of, rss_of


def _backend_pids() -> list[int]:
    """PostgreSQL backends connected to this database, the sampler's own excepted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]
