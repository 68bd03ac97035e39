"""In-process looks at a page: its queries and SQL time, Python time, a profile; table scans.

These run in the bench command's own process (Django's test client, the settings the
server runs with), never while the load runs, so they measure a page alone.
"""

import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import User
from insights.purchases.models import Order

# The locust names (locustfile.py) and a URL each stands for; the order page is filled in.
PAGES: list[tuple[str, str, bool]] = [
    ("history", "/history/", False),
    ("history ?page=N", "/history/?page=2", True),
    ("history ?filters", "/history/?channel=store", True),
    ("history/orders/[id]", "", False),
    ("habits ?period", "/habits/?period=3m", False),
    ("habits ?period (htmx)", "/habits/?period=12m", True),
    ("list", "/list/", False),
    ("pantry", "/pantry/", False),
]


@dataclass
class PageCost:
    name: str
    url: str
    queries: int
    sql_ms: float
    wall_ms: float
    cpu_ms: float
    kib: int

    @property
    def python_ms(self) -> float:
        """Wall time not spent waiting for SQL: templates, views, middleware."""
        return max(self.wall_ms - self.sql_ms, 0.0)


PROBE_HOST = "localhost"


def client_for(user: User) -> Client:
    """A logged-in test client; use it inside `probe_settings()`."""
    client = Client(HTTP_HOST=PROBE_HOST)
    client.force_login(user)
    return client


def probe_settings() -> override_settings:
    """The server's settings as far as a page cares: its host allowed, plain HTTP."""
    return override_settings(
        ALLOWED_HOSTS=[PROBE_HOST], SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False
    )


def page_urls(user: User) -> list[tuple[str, str, bool]]:
    """PAGES for this shopper, with their newest order as the order page."""
    newest = Order.objects.for_shopper(user).order_by("-placed_at").values_list("pk", flat=True)
    order_id = newest.first()
    out = []
    for name, url, htmx in PAGES:
        if name == "history/orders/[id]":
            if order_id is None:
                continue
            url = f"/history/orders/{order_id}/"
        out.append((name, url, htmx))
    return out


def page_costs(user: User, runs: int = 7) -> list[PageCost]:
    """Median wall and CPU time of each page for one shopper, and one run's queries."""
    with probe_settings():
        return _page_costs(user, runs)


def _page_costs(user: User, runs: int) -> list[PageCost]:
    client = client_for(user)
    out = []
    for name, url, htmx in page_urls(user):
        headers = {"HX-Request": "true"} if htmx else {}
        client.get(url, headers=headers)  # templates and caches warm, as on a busy server
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.get(url, headers=headers)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code} for {user.email}")
        out.append(
            PageCost(
                name=name,
                url=url,
                queries=len(captured.captured_queries),
                sql_ms=sum(float(q["time"]) for q in captured.captured_queries) * 1000,
                wall_ms=statistics.median(walls) * 1000,
                cpu_ms=statistics.median(cpus) * 1000,
                kib=len(response.content) // 1024,
            )
        )
    return out


def profile_page(user: User, url: str, *, htmx: bool, runs: int, out: Path) -> str:
    """pyinstrument over `runs` requests of one page; writes text and HTML, returns the text."""
    from pyinstrument import Profiler

    with probe_settings():
        return _profile_page(Profiler, user, url, htmx=htmx, runs=runs, out=out)


def _profile_page(profiler_class, user: User, url: str, *, htmx: bool, runs: int, out: Path) -> str:
    client = client_for(user)
    headers = {"HX-Request": "true"} if htmx else {}
    client.get(url, headers=headers)
    profiler = profiler_class(interval=0.0005)
    profiler.start()
    for _ in range(runs):
        client.get(url, headers=headers)
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False)
    out.with_suffix(".txt").write_text(text, encoding="utf-8")
    out.with_suffix(".html").write_text(profiler.output_html(), encoding="utf-8")
    return text


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# -- PostgreSQL's own counters -------------------------------------------------------------


def table_counters() -> dict[str, dict[str, int]]:
    """Scans and rows read per table of this database (pg_stat_user_tables)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), "
            "COALESCE(idx_tup_fetch, 0), n_live_tup FROM pg_stat_user_tables"
        )
        return {
            row[0]: {
                "seq_scan": row[1],
                "seq_tup_read": row[2],
                "idx_scan": row[3],
                "idx_tup_fetch": row[4],
                "rows": row[5],
            }
            for row in cursor.fetchall()
        }


def database_counters() -> dict[str, int]:
    """Transactions, block hits and reads, rows returned for this database (pg_stat_database)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched "
            "FROM pg_stat_database WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    keys = ["xact_commit", "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_fetched"]
    return dict(zip(keys, row, strict=True))


def counter_delta(after: dict, before: dict) -> dict:
    """after − before, key by key (nested one level for tables)."""
    out: dict = {}
    for key, value in after.items():
        if isinstance(value, dict):
            old = before.get(key, {})
            out[key] = {k: v - old.get(k, 0) if k != "rows" else v for k, v in value.items()}
        else:
            out[key] = value - before.get(key, 0)
    return out
