"""`manage.py bench_load`: 100 simulated shoppers on gunicorn for five minutes, and a report.

On DATABASE_URL (PostgreSQL with the full demo: `manage.py load_demo --households all`):

1. derives every shopper's habits, list and pantry when any is missing (what the workers
   would have done after the demo load);
2. measures each page alone in process: queries, SQL and Python time;
3. serves the site with gunicorn as in production (DEBUG off, collected static files) and
   runs locust headless: the shoppers log in through the form, then browse for the rest of
   `--seconds`; then, unless `--no-capacity`, the same number of shoppers read faster and
   faster (`--pace`) to find what the server carries;
4. profiles the slowest page with pyinstrument and writes `load-report.md`,
   `load-results.json` and locust's CSV files to `--out`.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from accounts.models import User
from insights.forecasts.models import ListItem
from insights.habits.models import HabitSnapshot
from insights.loadtest import prepare, probes, report
from insights.pantry.models import PantryItem
from insights.purchases import demo
from insights.purchases.models import OrderLine

if TYPE_CHECKING:
    from insights.loadtest import harness

DEFAULT_PACE = "5:60,2.5:60,1.2:60,0.6:60,0.3:60,0.1:60"


class Command(BaseCommand):
    help = "Load-test the site on DATABASE_URL (the full demo) and write a report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=100, help="Simulated shoppers.")
        parser.add_argument(
            "--spawn-rate", type=float, default=1.0, help="Shoppers logging in per second."
        )
        parser.add_argument(
            "--seconds", type=int, default=400, help="Length of the main run, logins included."
        )
        parser.add_argument(
            "--think", type=float, default=5.0, help="Mean seconds a shopper reads a page."
        )
        parser.add_argument("--port", type=int, default=8110)
        parser.add_argument(
            "--workers", type=int, default=3, help="gunicorn worker processes (see docs)."
        )
        parser.add_argument("--threads", type=int, default=2, help="Threads per worker.")
        parser.add_argument(
            "--pace",
            default=DEFAULT_PACE,
            help="Capacity ladder: mean think seconds:step seconds, comma-separated.",
        )
        parser.add_argument("--no-capacity", action="store_true", help="Skip the ladder.")
        parser.add_argument(
            "--derive",
            choices=["auto", "always", "never"],
            default="auto",
            help="Compute habits, lists and pantries first: when any is missing (auto), "
            "always, or never.",
        )
        parser.add_argument(
            "--prepare-only", action="store_true", help="Check and derive, then stop."
        )
        parser.add_argument("--out", default=str(Path(settings.VAR_DIR) / "bench"))

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.DEBUG:
            raise CommandError("Run the load test with DEBUG off (DEBUG=0), as production does.")
        try:
            state = prepare.check_full_demo()
        except prepare.NotReady as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Demo: {state.households_loaded:,} households, {state.orders:,} orders.")
        derive_steps = self._derive(options["derive"])
        seconds, autovacuum = prepare.refresh_statistics()
        self.stdout.write(f"ANALYZE: {seconds:.1f} s (autovacuum on this server: {autovacuum}).")
        if options["prepare_only"]:
            return
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        try:
            chosen = prepare.choose_shoppers(options["users"])
        except prepare.NotReady as exc:
            raise CommandError(str(exc)) from None
        shoppers_file = out / "shoppers.json"
        shoppers_file.write_text(json.dumps(chosen), encoding="utf-8")
        results = self._run(options, out, chosen, shoppers_file, state, derive_steps)
        results["autovacuum"] = autovacuum
        (out / "load-results.json").write_text(
            json.dumps(results, indent=1, default=str), encoding="utf-8"
        )
        (out / "load-report.md").write_text(report.render(results), encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Report: {out / 'load-report.md'}"))
        steady = results["main"]["steady"]
        self.stdout.write(
            f"Steady: {steady['rps']:.1f} req/s, p50 {steady['p50']} ms, p95 {steady['p95']} ms, "
            f"p99 {steady['p99']} ms, errors {steady['failures']} of {steady['requests']:,}"
        )

    # ------------------------------------------------------------------------------ steps

    def _derive(self, mode: str) -> list:
        derived = prepare.derived_state()
        if mode == "never" or (mode == "auto" and derived.complete):
            return []
        self.stdout.write(
            f"Deriving (missing: {derived.habits_missing} habits, {derived.lists_missing} "
            f"lists, {derived.pantries_missing} pantries)..."
        )
        timings = prepare.derive_for_everyone(say=self.stdout.write)
        for name, shoppers, wall, cpu, db in timings.steps:
            database = "" if db is None else f", PostgreSQL {db:.1f} s CPU"
            self.stdout.write(
                f"  {name}: {shoppers:,} shoppers, {wall:.1f} s wall, {cpu:.1f} s CPU{database}"
            )
        return timings.steps

    def _server_env(self, options: dict, out: Path) -> dict[str, str]:
        """Production settings for gunicorn, less what needs a TLS proxy in front of it."""
        return {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain HTTP on the loopback: a Secure cookie would never come back from locust.
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            # Collected where this process reads them too, so the probes render the same pages.
            "STATIC_ROOT": str(settings.STATIC_ROOT),
            "STATIC_MANIFEST": "1",
            "LOG_LEVEL": "WARNING",
        }

    def _collectstatic(self, env: dict[str, str], log: Path) -> None:
        self.stdout.write("Collecting static files...")
        with log.open("ab") as handle:
            subprocess.run(  # noqa: S603 - our own interpreter and manage.py
                [sys.executable, "manage.py", "collectstatic", "--noinput"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=handle,
                stderr=handle,
                check=True,
            )

    def _run(
        self,
        options: dict,
        out: Path,
        chosen: list[tuple[str, int]],
        shoppers_file: Path,
        state: prepare.DemoState,
        derive_steps: list,
    ) -> dict:
        harness = _harness()
        env = self._server_env(options, out)
        self._collectstatic(env, out / "gunicorn.log")
        heavy_email, heavy_lines = chosen[-1]
        median_email, median_lines = chosen[len(chosen) // 2]
        heavy = User.objects.get(email=heavy_email)
        median = User.objects.get(email=median_email)
        self.stdout.write("Measuring each page alone...")
        pages_heavy = probes.page_costs(heavy)
        pages_median = probes.page_costs(median)
        connection.close()

        config = harness.ServerConfig(
            port=options["port"],
            workers=options["workers"],
            threads=options["threads"],
            env=env,
            access_log=out / "access.log",
            error_log=out / "gunicorn.log",
        )
        for stale in (config.access_log, out / "locust.log"):
            stale.unlink(missing_ok=True)
        users, spawn_rate = options["users"], options["spawn_rate"]
        ramp = users / spawn_rate
        main_run = harness.LocustRun(
            host=config.url,
            users=users,
            spawn_rate=spawn_rate,
            seconds=options["seconds"],
            think=options["think"],
            csv_prefix=out / "load",
            snapshots=out / "load-snapshots.json",
            shoppers=shoppers_file,
            password=demo.DEMO_PASSWORD,
            log=out / "locust.log",
        )
        capacity_run = None
        pace = [] if options["no_capacity"] else _parse_pace(options["pace"])
        if pace:
            capacity_run = harness.LocustRun(
                host=config.url,
                users=users,
                spawn_rate=spawn_rate,
                seconds=int(ramp + sum(s for _, s in pace) + 30),
                think=pace[0][0],
                pace=options["pace"],
                csv_prefix=out / "capacity",
                snapshots=out / "capacity-snapshots.json",
                shoppers=shoppers_file,
                password=demo.DEMO_PASSWORD,
                log=out / "locust.log",
            )

        load_before = os.getloadavg()[0]
        tables_before, db_before = probes.table_counters(), probes.database_counters()
        connection.close()
        sampler = harness.Sampler()
        sampler.start()
        try:
            with harness.gunicorn(config) as server:
                sampler.watch("gunicorn", server.pid)
                harness.warm_up(config.port, options["workers"] * options["threads"] * 4)
                self.stdout.write(
                    f"Main run: {users} shoppers for {options['seconds']} s "
                    f"(load average {os.getloadavg()[0]:.2f})..."
                )
                self._locust(main_run, sampler)
                # Backends flush their table counters within ~10 s of going idle (PG 15).
                time.sleep(12)
                tables_after, db_after = probes.table_counters(), probes.database_counters()
                if capacity_run is not None:
                    self.stdout.write(f"Capacity ladder {options['pace']}...")
                    self._locust(capacity_run, sampler)
        finally:
            sampler.stop()

        main_snaps = json.loads(main_run.snapshots.read_text(encoding="utf-8"))
        end = main_snaps[-1]["t"]
        whole = report.window(main_snaps, 0, end)
        steady = report.window(main_snaps, ramp + 10, end)
        served = report.parse_access_log(
            config.access_log.read_text(encoding="utf-8", errors="replace").splitlines()
        )
        server_steady = report.server_side(served, steady.wall_start, steady.wall_end)
        endpoints = []
        for name, win in sorted(steady.per_name.items()):
            row = {"name": name, **report.summary(win)}
            if name in server_steady:
                srv = server_steady[name]
                row |= {
                    "server_p50": srv.p(0.5),
                    "server_p95": srv.p(0.95),
                    "server_p99": srv.p(0.99),
                }
            endpoints.append(row)
        logins = [
            {
                "name": r["Name"],
                "requests": int(r["Request Count"]),
                "failures": int(r["Failure Count"]),
                "p50": r["50%"],
                "p95": r["95%"],
                "max": round(float(r["Max Response Time"])),
            }
            for r in report.read_locust_stats(out / "load_stats.csv")
            if r["Name"].startswith("login: ")
        ]
        main = {
            "whole": report.summary(whole),
            "steady": report.summary(steady),
            "endpoints": endpoints,
            "logins": logins,
            "cpu": _cpu(sampler.samples, steady.wall_start, steady.wall_end),
            "load": report.load_averages(sampler.samples, steady.wall_start, steady.wall_end),
            "rss": {
                group: report.peak_rss(sampler.samples, group, steady.wall_start, steady.wall_end)
                for group in ("gunicorn", "postgres")
            },
        }
        capacity = []
        if capacity_run is not None:
            snaps = json.loads(capacity_run.snapshots.read_text(encoding="utf-8"))
            for step in report.pace_steps(snaps, ramp, pace):
                capacity.append(
                    report.summary(step)
                    | {
                        "cpu": _cpu(sampler.samples, step.wall_start, step.wall_end),
                        "load": report.load_averages(
                            sampler.samples, step.wall_start, step.wall_end
                        ),
                    }
                )

        slowest = max(endpoints, key=lambda e: (e["p95"], e["p50"]))
        profile = self._profile(heavy, slowest["name"], out)
        files = [
            "load-report.md",
            "load-results.json",
            "load_stats.csv",
            "load_stats_history.csv",
            "load_failures.csv",
            "access.log",
            "gunicorn.log",
            "locust.log",
            "shoppers.json",
        ]
        if capacity_run is not None:
            files += ["capacity_stats.csv"]
        lines = [n for _, n in chosen]
        return {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["manage.py", "bench_load", *sys.argv[2:]]),
            "commit": _commit(),
            "cores": os.cpu_count(),
            "database": settings.DATABASES["default"]["NAME"],
            "load_before": load_before,
            "server": {
                "workers": options["workers"],
                "threads": options["threads"],
                "broker": _broker(),
            },
            "demo": {
                "households": state.households_loaded,
                "orders": state.orders,
                "lines": OrderLine.objects.count(),
                "derived": (
                    f"{HabitSnapshot.objects.count():,} habit snapshots, "
                    f"{ListItem.objects.count():,} list items, "
                    f"{PantryItem.objects.count():,} pantry items"
                ),
            },
            "derive": derive_steps,
            "users": users,
            "spawn_rate": spawn_rate,
            "think": options["think"],
            "seconds": options["seconds"],
            "ramp": ramp,
            "shoppers": {
                "lines_min": min(lines),
                "lines_median": int(statistics.median(lines)),
                "lines_max": max(lines),
            },
            "main": main,
            "capacity": capacity,
            "pages_heavy": _pages(heavy_email, heavy_lines, pages_heavy),
            "pages_median": _pages(median_email, median_lines, pages_median),
            "tables": _scanned(probes.counter_delta(tables_after, tables_before)),
            "database_counters": probes.counter_delta(db_after, db_before),
            "pg_stat_statements": _statements_note(),
            "profile": profile,
            "files": files,
        }

    def _locust(self, run: harness.LocustRun, sampler: harness.Sampler) -> None:
        process = run.start()
        sampler.watch("locust", process.pid)
        try:
            code = process.wait(timeout=run.seconds + 120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise CommandError("locust did not stop in time; see locust.log") from None
        if code != 0:
            raise CommandError(f"locust exited with {code}; see {run.log}")
        if not run.snapshots.exists():
            raise CommandError(f"locust wrote no {run.snapshots.name}; see {run.log}")

    def _profile(self, user: User, name: str, out: Path) -> dict:
        urls = {n: (url, htmx) for n, url, htmx in probes.page_urls(user)}
        if name not in urls:
            return {}
        url, htmx = urls[name]
        runs = 20
        path = out / f"profile-{probes.slug(name)}"
        self.stdout.write(f"Profiling {name} ({url}) for {user.email}...")
        text = probes.profile_page(user, url, htmx=htmx, runs=runs, out=path)
        head = [line for line in text.splitlines() if line.strip()][:45]
        return {
            "name": name,
            "url": url,
            "email": user.email,
            "runs": runs,
            "file": path.name,
            "head": head,
        }


def _harness():
    """The harness module, whose psutil (and the locust it runs) come with the bench extra."""
    try:
        from insights.loadtest import harness
    except ImportError as exc:
        raise CommandError(
            f"The load test needs the bench extra ({exc.name} is missing): `make bench-load` "
            "installs it, or `pip install -e '.[bench]'`."
        ) from None
    return harness


def _parse_pace(text: str) -> list[tuple[float, float]]:
    try:
        steps = [(float(m), float(s)) for m, s in (p.split(":") for p in text.split(",") if p)]
    except ValueError:
        raise CommandError(f"--pace takes mean:seconds pairs, e.g. {DEFAULT_PACE}") from None
    if any(m < 0 or s < 15 for m, s in steps):
        raise CommandError("--pace: think times from 0 and steps of at least 15 s")
    return steps


def _cpu(samples: list[dict], start: float, end: float) -> dict[str, float]:
    busy, wall = report.machine_in_window(samples, start, end)
    return {
        "gunicorn": report.cpu_in_window(samples, "gunicorn", start, end),
        "postgres": report.cpu_in_window(samples, "postgres", start, end),
        "locust": report.cpu_in_window(samples, "locust", start, end),
        "machine_busy": busy,
        "wall": wall,
    }


def _pages(email: str, lines: int, pages: list[probes.PageCost]) -> dict:
    return {
        "email": email,
        "lines": lines,
        "runs": 7,
        "pages": [p.__dict__ for p in pages],
    }


def _scanned(tables: dict[str, dict[str, int]], top: int = 8) -> list[dict]:
    rows = [{"table": name, **t} for name, t in tables.items() if t["seq_scan"] > 0]
    rows.sort(key=lambda t: -t["seq_tup_read"])
    return rows[:top]


def _statements_note() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_preload_libraries")
        loaded = "pg_stat_statements" in cursor.fetchone()[0]
    if loaded:
        return "pg_stat_statements is loaded on this server: see its view for per-statement time."
    return (
        "pg_stat_statements is not in shared_preload_libraries here (loading it restarts the "
        "shared server), so per-statement time comes from the per-page query counts above."
    )


def _broker() -> str:
    url = settings.CELERY_BROKER_URL
    return url.split("@")[-1] if "@" in url else url


def _commit() -> str:
    try:
        return subprocess.run(  # noqa: S603
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
