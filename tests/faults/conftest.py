"""Private Redis servers and real Celery worker processes for the fault tests, always cleaned up.

Each test starts what it breaks: its own `redis-server` (on a free port, in the test's tmp
folder) and `celery worker` subprocesses that share the test database (a file on SQLite,
see tests/conftest.py; the test database itself on PostgreSQL). Every process is started in
its own session and its whole group is SIGKILLed at teardown, whatever the test did.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
QUEUES = "celery,ingestion,refresh,notifications"
# Ports tried first for private Redis servers; any free port after them.
REDIS_PORTS = range(6390, 6400)


def free_port() -> int:
    for port in REDIS_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, step=0.05) -> object:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


class RedisServer:
    """A redis-server of our own; `persistent` keeps its data in an append-only file."""

    def __init__(self, folder: Path, *, persistent: bool) -> None:
        self.folder = folder
        self.port = free_port()
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]  # noqa: S607
            + ["--dir", str(self.folder), "--save", "", *persistence]
            + ["--logfile", str(self.folder / "redis.log")],
            start_new_session=True,
        )

        def answers() -> bool:
            try:
                return bool(self.client().ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=20, what=f"redis-server on port {self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a restart (Redis writes its data and exits); SIGKILL: a crash."""
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=30)

    def cleanup(self) -> None:
        if self.process is not None:
            _kill_group(self.process)


class Worker:
    """A `celery worker` subprocess (prefork) on the given broker and the test database."""

    def __init__(self, log: Path, env: dict[str, str], *, concurrency: int, include: str) -> None:
        self.log = log
        self.env = env
        self.concurrency = concurrency
        self.include = include
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        command = [sys.executable, "-m", "celery", "-A", "insights", "worker"]
        command += ["-P", "prefork", "-c", str(self.concurrency), "-Q", QUEUES]
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
        command += ["--loglevel", "INFO", "-n", f"faults-{os.getpid()}@%h"]
        if self.include:
            command += ["--include", self.include]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                command,
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            with self.log.open("rb") as text:
                text.seek(offset)
                return b" ready." in text.read()

        wait_for(ready, timeout=90, what="the Celery worker to be ready", step=0.1)

    def restart_if_exited(self) -> bool:
        """What a process supervisor does (systemd's Restart=, Kubernetes): start it again."""
        if self.process is not None and self.process.poll() is not None:
            self.restarts += 1
            self.start()
            return True
        return False

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pool_pids(self) -> list[int]:
        """The pool's child processes (their parent is the worker's main process)."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once: the machine or container is gone."""
        assert self.process is not None
        _kill_group(self.process)

    def kill_pool_process(self) -> None:
        """SIGKILL the pool process running the task (as the kernel's OOM killer would)."""
        for pid in self.pool_pids():
            os.kill(pid, signal.SIGKILL)

    def cleanup(self) -> None:
        if self.process is not None:
            _kill_group(self.process)


def database_url() -> str:
    """The URL of the test database, for the worker subprocesses."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{credentials}{host}/{db['NAME']}"


@pytest.fixture(autouse=True)
def _nothing_to_the_suites_broker(monkeypatch) -> list:
    """Product code run by the test itself (not by its workers) queues nothing for real.

    The suite's broker (a folder under var/, or the shared Redis in CI) is not the one
    these tests break; the tests send their messages through `producer`.
    """
    from insights.celery import app

    # Celery lets these variables win over any app's own broker URL, the producer's too.
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)
    sent: list = []
    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: sent.append((args, kwargs)))
    return sent


@pytest.fixture
def redis_servers(tmp_path) -> Iterator[Callable[..., RedisServer]]:
    started: list[RedisServer] = []

    def start(*, persistent: bool = False) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(started)}", persistent=persistent)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.cleanup()


@pytest.fixture
def workers(tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start workers with `workers(broker_url, concurrency=1, **env)`; all killed at teardown."""
    started: list[Worker] = []
    if connection.vendor == "sqlite":
        assert not connection.settings_dict["NAME"].startswith("file:memorydb"), (
            "the worker processes need the test database in a file (tests/conftest.py)"
        )

    def start(broker_url: str, *, concurrency: int = 1, include: str = "", **extra: str) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "KVITTO_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "insights.settings",
            "STATIC_MANIFEST": "0",
            "PYTHONPATH": str(REPO),
            **extra,
        }
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        worker = Worker(
            tmp_path / f"worker{len(started)}.log", env, concurrency=concurrency, include=include
        )
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.cleanup()


def producer(broker_url: str) -> Celery:
    """A Celery app that only sends messages, to the private broker, routed like Kvitto's."""
    app = Celery("faults-producer", broker=broker_url, set_as_current=False)
    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    return app
