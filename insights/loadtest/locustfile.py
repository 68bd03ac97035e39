"""Locust shoppers for `manage.py bench_load`: log in, then browse history, habits, list, pantry.

Run by the bench command (never imported by Django: locust patches the standard library with
gevent). Settings come from the environment:

  LOAD_SHOPPERS    JSON file: a list of [e-mail, order lines], one per simulated shopper
  LOAD_PASSWORD    the demo password
  LOAD_THINK       mean seconds a shopper reads a page before the next (default 5)
  LOAD_PACE        optional ladder "mean:seconds,mean:seconds,...": the mean think time
                   changes at each step (the capacity run); the run ends after the last
  LOAD_SNAPSHOTS   JSON file written at the end: the browsing requests' response-time
                   histograms every few seconds, so a report can cut the run into windows

Every request carries its name in the X-Bench-Name header, so gunicorn's access log (which
records it) can be read per endpoint on the server side too. Logging in is named apart
("login: ...") and left out of the browsing figures: it happens once per shopper and is
slow on purpose (password hashing).
"""

import itertools
import json
import os
import random
import time
from datetime import date, timedelta
from html import unescape
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, LoadTestShape, events, task
from locust.runners import WorkerRunner

from insights.loadtest.scrape import (
    CATEGORY_OPTION,
    CSRF_INPUT,
    HISTORY_LINK,
    NEXT_PAGE,
    ORDER_LINK,
)

LOGIN_PREFIX = "login: "
SNAPSHOT_EVERY = 5.0
SEARCH_WORDS = ["milk", "bread", "cheese", "chicken", "coffee", "banana", "soup", "juice"]


def _shoppers() -> list[list]:
    path = os.environ.get("LOAD_SHOPPERS", "")
    if not path:
        raise SystemExit("LOAD_SHOPPERS is not set: run this through `manage.py bench_load`.")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _pace() -> list[tuple[float, float]]:
    steps = []
    for part in filter(None, os.environ.get("LOAD_PACE", "").split(",")):
        mean, seconds = part.split(":")
        steps.append((float(mean), float(seconds)))
    return steps


SHOPPERS = _shoppers()
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
PACE = _pace()
STATE = {"think": float(os.environ.get("LOAD_THINK", "5")), "started": time.monotonic()}
_next_shopper = itertools.count()


def think_time(user: HttpUser) -> float:
    """Uniform between 0.4 and 1.6 times the current mean: readers differ, the mean holds."""
    mean = STATE["think"]
    return random.uniform(0.4 * mean, 1.6 * mean)  # noqa: S311 - pacing, not security


class Shopper(HttpUser):
    """One demo shopper: logs in through the form once, then browses like a person."""

    wait_time = think_time

    def on_start(self) -> None:
        index = next(_next_shopper)
        self.email = SHOPPERS[index % len(SHOPPERS)][0]
        self.orders: list[str] = []
        self.links: list[str] = []
        self.categories: list[str] = []
        self.pages = 1
        self._login()

    # -- helpers ---------------------------------------------------------------------

    def _get(self, url: str, name: str, *, htmx: bool = False) -> str:
        headers = {"X-Bench-Name": name}
        if htmx:
            headers["HX-Request"] = "true"
        with self.client.get(url, name=name, headers=headers, catch_response=True) as response:
            if response.status_code == 0:
                response.failure(f"no answer: {response.error!r}")
            elif response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif "/accounts/login/" in urlsplit(response.url).path:
                response.failure("sent to the login page: the session was lost")
            else:
                response.success()
            return response.text or ""

    def _login(self) -> None:
        name = LOGIN_PREFIX + "form"
        page = self.client.get("/accounts/login/", name=name, headers={"X-Bench-Name": name})
        match = CSRF_INPUT.search(page.text or "")
        name = LOGIN_PREFIX + "submit"
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.email,
                "password": PASSWORD,
                "csrfmiddlewaretoken": match.group(1) if match else "",
            },
            name=name,
            headers={"X-Bench-Name": name, "Referer": self.host + "/accounts/login/"},
            catch_response=True,
        ) as response:
            if urlsplit(response.url).path.startswith("/accounts/login/"):
                response.failure(f"login refused for {self.email} (HTTP {response.status_code})")
            else:
                response.success()
                self._remember_history(response.text or "")

    def _remember_history(self, html: str) -> None:
        found = ORDER_LINK.findall(html)
        if found:
            self.orders = found
        self.categories = CATEGORY_OPTION.findall(html) or self.categories
        if NEXT_PAGE in html:
            self.pages = max(self.pages, 2)

    # -- what a shopper does ----------------------------------------------------------

    @task(10)
    def history(self) -> None:
        self._remember_history(self._get("/history/", "history"))

    @task(8)
    def history_older_month(self) -> None:
        page = random.randint(2, max(2, min(self.pages + 1, 12)))  # noqa: S311
        html = self._get(f"/history/?page={page}", "history ?page=N", htmx=True)
        if NEXT_PAGE in html:
            self.pages = max(self.pages, page + 1)
        self.orders = ORDER_LINK.findall(html) or self.orders

    @task(10)
    def history_filtered(self) -> None:
        """One of the filters a shopper uses: a search, a channel, a category, a date range,
        or a link from the habits page (a product, a weekday and hour)."""
        choice = random.randint(0, 4)  # noqa: S311
        if choice == 0 and self.links:
            url = unescape(random.choice(self.links))  # noqa: S311
        elif choice == 1 and self.categories:
            url = f"/history/?category={random.choice(self.categories)}"  # noqa: S311
        elif choice == 2:
            end = date.today() - timedelta(days=random.randint(0, 300))  # noqa: S311
            url = f"/history/?from={end - timedelta(days=30)}&to={end}"
        elif choice == 3:
            url = "/history/?channel=store"
        else:
            url = f"/history/?q={random.choice(SEARCH_WORDS)}"  # noqa: S311
        html = self._get(url, "history ?filters", htmx=True)
        self.orders = ORDER_LINK.findall(html) or self.orders

    @task(12)
    def order(self) -> None:
        if not self.orders:
            self.history()
        if self.orders:
            self._get(random.choice(self.orders), "history/orders/[id]")  # noqa: S311

    @task(14)
    def habits(self) -> None:
        period = random.choice(["4w", "3m", "3m", "12m"])  # noqa: S311
        html = self._get(f"/habits/?period={period}", "habits ?period")
        self.links = HISTORY_LINK.findall(html) or self.links

    @task(6)
    def habits_other_period(self) -> None:
        period = random.choice(["4w", "12m"])  # noqa: S311
        self._get(f"/habits/?period={period}", "habits ?period (htmx)", htmx=True)

    @task(20)
    def shopping_list(self) -> None:
        self._get("/list/", "list")

    @task(16)
    def pantry(self) -> None:
        self._get("/pantry/", "pantry")


class PaceLadder(LoadTestShape):
    """With LOAD_PACE: all shoppers stay, the mean think time steps down (throughput up).

    Without it the class is removed below, and the command line (-u, -r, -t) rules."""

    def __init__(self) -> None:
        super().__init__()
        self.users = int(os.environ.get("LOAD_USERS", "100"))
        self.spawn_rate = float(os.environ.get("LOAD_SPAWN_RATE", "2"))
        self.ramp = self.users / self.spawn_rate

    def tick(self):
        if not PACE:
            return None
        elapsed = self.get_run_time()
        if elapsed < self.ramp:
            STATE["think"] = PACE[0][0]
            return self.users, self.spawn_rate
        at = self.ramp
        for mean, seconds in PACE:
            at += seconds
            if elapsed < at:
                STATE["think"] = mean
                return self.users, self.spawn_rate
        return None


if not PACE:
    # Locust uses a shape class whenever one is defined in the file.
    del PaceLadder


# -- snapshots of the browsing histogram, for windows of the run ------------------------

_snapshots: list[dict] = []


def _browsing_snapshot(environment) -> dict:
    """Merged counts of every browsing endpoint (no login) at this moment."""
    times: dict[int, int] = {}
    requests = failures = 0
    per_name: dict[str, dict] = {}
    for (name, _method), entry in environment.stats.entries.items():
        if name.startswith(LOGIN_PREFIX):
            continue
        requests += entry.num_requests
        failures += entry.num_failures
        for ms, count in entry.response_times.items():
            times[ms] = times.get(ms, 0) + count
        per_name[name] = {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "times": dict(entry.response_times),
        }
    return {
        "t": round(time.monotonic() - STATE["started"], 2),
        "wall": time.time(),
        "think": STATE["think"],
        "users": environment.runner.user_count if environment.runner else 0,
        "requests": requests,
        "failures": failures,
        "times": times,
        "per_name": per_name,
    }


def _snapshot_loop(environment) -> None:
    while True:
        _snapshots.append(_browsing_snapshot(environment))
        gevent.sleep(SNAPSHOT_EVERY)


@events.test_start.add_listener
def _on_test_start(environment, **kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    STATE["started"] = time.monotonic()
    gevent.spawn(_snapshot_loop, environment)


@events.test_stop.add_listener
def _on_test_stop(environment, **kwargs) -> None:
    path = os.environ.get("LOAD_SNAPSHOTS")
    if not path or isinstance(environment.runner, WorkerRunner):
        return
    _snapshots.append(_browsing_snapshot(environment))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_snapshots, handle)
