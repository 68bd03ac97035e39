"""Benchmark habit refreshes and the habits page on The Complete Journey (2,469 households).

Three measurements, each printed with its figure:

1. pure analysis: the parquet straight into a lines frame, then every standard period
   for every household in one vectorised pass (no database);
2. end to end on the configured database (run with DATABASE_URL for PostgreSQL): the
   Complete Journey is ingested through `purchases.services.ingest_lines` once (when no
   `completejourney` orders are stored; a database filled by `load_demo --households all`
   is used as it is), products get their department/category, each household a login
   with the insights consent; then `services.refresh_habits_many` for everyone in chunks
   (one query per chunk), and `services.refresh_habits` for the heaviest household. The
   windows end on the day of the newest stored Complete Journey order;
3. the habits page for the heaviest household: median server time of repeated requests
   through the test client, and its query count.

`--single-only` runs just the heaviest household's `refresh_habits` (`--single-runs`
times, default 5) on data already loaded: the one-shopper figure without the batch.
`--page-only` times just the page, on snapshots already computed.

On PostgreSQL, tables without planner statistics are analysed first (and said so).

Every timing is printed as wall time and this process's CPU time, with the load average
of the machine: on a shared machine the CPU time is the figure that compares runs (the
database server's own CPU is not in it).
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Count, Max
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from accounts.consent import allowed_user_ids, current_text
from accounts.models import ConsentEvent, Customer, User
from accounts.purposes import INSIGHTS
from insights.bench import analyze_if_unplanned, load_average
from insights.catalog.models import Category, Department, Product
from insights.habits import analysis, services
from insights.purchases.models import Order, OrderLine

SOURCE = "completejourney"
BENCH_DOMAIN = "habits-bench.invalid"
NEVER_LIST = {
    "FUEL",
    "COUPON",
    "POSTAL CENTER",
    "CHARITABLE CONT",
    "CNTRL/STORE SUP",
    "PROD-WHS SALES",
    "GM MERCH EXP",
}
# The last day of The Complete Journey: the windows end here.
AS_OF = date(2017, 12, 31)


def _data_dir():
    from insights.purchases.management.commands.bench_ingest import transactions_path

    return transactions_path().parent


def parquet_lines(households: int | None) -> pd.DataFrame:
    """The Complete Journey as a lines frame (shopper = household), without a database."""
    data = pd.read_parquet(_data_dir() / "transactions.parquet")
    if households is not None:
        keep = np.sort(data["household_id"].unique())[:households]
        data = data[data["household_id"].isin(keep)]
    products = pd.read_parquet(
        _data_dir() / "products.parquet",
        columns=["product_id", "department", "product_category", "product_type"],
    )
    products = products[~products["department"].isin(NEVER_LIST)]
    data = data.merge(products, on="product_id", how="inner")
    department = data["department"].fillna("?")
    category = department + "/" + data["product_category"].fillna("?")
    department_codes, _ = pd.factorize(department)
    category_codes, _ = pd.factorize(category)
    return pd.DataFrame(
        {
            "shopper": data["household_id"].to_numpy(),
            "order_id": data["basket_id"].to_numpy(),
            "placed_at": data["transaction_timestamp"],
            "channel": "store",
            "product_id": data["product_id"].to_numpy(),
            "product_name": data["product_type"].fillna("?").to_numpy(),
            "category_id": category_codes,
            "category_name": data["product_category"].fillna("?").to_numpy(),
            "department_id": department_codes,
            "department_name": department.to_numpy(),
            "quantity": data["quantity"].to_numpy(dtype=float),
            "amount_paid": data["sales_value"].to_numpy(),
            "discount": data["retail_disc"].abs().to_numpy(),
            "coupon_discount": (data["coupon_disc"] + data["coupon_match_disc"]).abs().to_numpy(),
        }
    )


class Command(BaseCommand):
    help = "Measure habit refreshes (all households, one shopper) and the habits page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--households", type=int, default=None, help="First N (default all).")
        parser.add_argument("--pure-only", action="store_true", help="Skip the database parts.")
        parser.add_argument("--chunk", type=int, default=500, help="Shoppers per refresh batch.")
        parser.add_argument(
            "--single-only",
            action="store_true",
            help="Only time refresh_habits for the heaviest household (the data must be loaded).",
        )
        parser.add_argument(
            "--single-runs", type=int, default=5, help="Refreshes of the heaviest household."
        )
        parser.add_argument(
            "--page-only",
            action="store_true",
            help="Only time the page for the heaviest household (snapshots must be computed).",
        )
        parser.add_argument("--requests", type=int, default=30, help="Page requests to time.")
        parser.add_argument(
            "--database-url",
            default="",
            help="Run against this database (migrated first) instead of the configured one.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["database_url"]:
            self._rerun_on(options["database_url"])
            return
        self._single_runs = options["single_runs"]
        if options["single_only"] or options["page_only"]:
            self._statistics()
            if options["single_only"]:
                self._single()
            if options["page_only"]:
                self._page(options["requests"])
            return
        self._pure(options["households"])
        if options["pure_only"]:
            return
        self._load(options["households"])
        self._statistics()
        self._end_to_end(options["chunk"])
        self._page(options["requests"])

    def _rerun_on(self, url: str) -> None:
        """Settings are read at start-up, so another database means another process."""
        env = {**os.environ, "DATABASE_URL": url}
        args = [a for a in sys.argv[2:] if not a.startswith("--database-url")]
        if "--database-url" in sys.argv:
            position = args.index(url) if url in args else -1
            if position >= 0:
                del args[position]
        manage = [sys.executable, sys.argv[0]]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)  # noqa: S603
        subprocess.run([*manage, "bench_habits", *args], env=env, check=True)  # noqa: S603

    def _clock(self) -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def _since(self, clock: tuple[float, float]) -> str:
        wall, cpu = time.perf_counter() - clock[0], time.process_time() - clock[1]
        return f"{wall:.1f} s wall, {cpu:.1f} s CPU"

    def _load_average(self) -> str:
        return load_average()

    def _statistics(self) -> None:
        analysed = analyze_if_unplanned()
        if analysed:
            self._say(
                f"[{connection.vendor}] no planner statistics: analysed {', '.join(analysed)}"
            )

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _pure(self, households: int | None) -> None:
        self._say(f"[machine] {self._load_average()}")
        started = time.perf_counter()
        lines = parquet_lines(households)
        loaded = time.perf_counter()
        clock = self._clock()
        prepared = analysis.prepare_lines(lines)
        windows = {period: analysis.period_window(period, AS_OF) for period in analysis.PERIOD_KEYS}
        all_frames = analysis.compute_periods(prepared, as_of=AS_OF, windows=windows)
        shoppers = 0
        for frames in all_frames.values():
            shoppers = len(analysis.payloads_many(frames))
        elapsed = time.perf_counter() - clock[0]
        self._say(
            f"[pure] {len(lines):,} lines, {shoppers} households, 3 periods in one pass: read "
            f"{loaded - started:.1f} s, analysis {self._since(clock)} = "
            f"{shoppers / elapsed:.0f} households/s"
        )

    def _load(self, households: int | None) -> None:
        if not OrderLine.objects.filter(order__source=SOURCE).exists():
            from insights.purchases.management.commands.bench_ingest import (
                complete_journey_frame,
            )
            from insights.purchases.services import ingest_lines

            started = time.perf_counter()
            frame, _ = complete_journey_frame(households)
            codes, _ = pd.factorize(frame["external_id"])
            edges = np.searchsorted(codes, np.arange(0, codes.max() + 5000, 5000))
            bounds = np.unique(np.append(edges, len(frame)))
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
                result = ingest_lines(source=SOURCE, lines=frame.iloc[start:stop])
                if not result.ok:
                    raise CommandError(f"ingest failed: {result.errors[:5]}")
            self._say(
                f"[load] ingested {len(frame):,} lines in {time.perf_counter() - started:.0f} s"
            )
        self._catalog()
        self._logins()

    @transaction.atomic
    def _catalog(self) -> None:
        """Departments, categories and readable names for the ingested SKUs (once)."""
        if Category.objects.filter(products__isnull=False).exists():
            return
        products = pd.read_parquet(_data_dir() / "products.parquet")
        products["sku"] = products["product_id"].astype(str)
        departments = {}
        for name in sorted(products["department"].dropna().unique()):
            departments[name], _ = Department.objects.get_or_create(
                name=name.title(), defaults={"never_list": name in NEVER_LIST}
            )
        categories = {}
        pairs = products[["department", "product_category"]].dropna().drop_duplicates()
        for dept, cat in pairs.itertuples(index=False):
            categories[(dept, cat)], _ = Category.objects.get_or_create(
                department=departments[dept], name=cat.capitalize()[:100]
            )
        info = products.set_index("sku")
        stored = list(Product.objects.filter(sku__in=list(info.index)).only("id", "sku"))
        for product in stored:
            row = info.loc[product.sku]
            key = (row["department"], row["product_category"])
            product.category = categories.get(key)
            kind = row["product_type"] if isinstance(row["product_type"], str) else ""
            brand = "Own brand" if row["brand"] == "Private" else "National"
            product.name = (kind.capitalize() or f"Product {product.sku}")[:150] + f" ({brand})"
        Product.objects.bulk_update(stored, ["category", "name"], batch_size=2000)
        self._say(f"[load] catalogued {len(stored):,} products")

    @transaction.atomic
    def _logins(self) -> None:
        loose = list(Customer.objects.filter(user__isnull=True).prefetch_related("identifiers"))
        if loose:
            password = make_password(None)
            users = User.objects.bulk_create(
                [
                    User(
                        email=f"household-{c.identifiers.all()[0].value}@{BENCH_DOMAIN}",
                        password=password,
                    )
                    for c in loose
                ],
                batch_size=2000,
            )
            for customer, user in zip(loose, users, strict=True):
                customer.user_id = user.pk
            Customer.objects.bulk_update(loose, ["user"], batch_size=2000)
        bench = set(User.objects.filter(email__endswith=BENCH_DOMAIN).values_list("pk", flat=True))
        missing = bench - allowed_user_ids(INSIGHTS, bench)
        text = current_text(INSIGHTS)
        ConsentEvent.objects.bulk_create(
            [
                ConsentEvent(
                    user_id=pk,
                    purpose=INSIGHTS,
                    text=text,
                    granted=True,
                    method=ConsentEvent.Method.DEMO,
                )
                for pk in missing
            ],
            batch_size=2000,
        )

    def _users(self) -> list[int]:
        """Every login of a Complete Journey household (the benchmark's or the demo's)."""
        return sorted(
            User.objects.filter(customer__orders__source=SOURCE)
            .distinct()
            .values_list("pk", flat=True)
        )

    def _as_of(self) -> datetime:
        """The end of the day of the newest stored Complete Journey order."""
        newest = Order.objects.filter(source=SOURCE).aggregate(at=Max("placed_at"))["at"]
        day = timezone.localdate(newest) if newest else AS_OF
        return timezone.make_aware(datetime(day.year, day.month, day.day, 23, 59))

    def _end_to_end(self, chunk: int) -> None:
        users = self._users()
        vendor = connection.vendor
        as_of = self._as_of()
        self._say(f"[machine] {self._load_average()}; windows end {as_of:%Y-%m-%d}")
        clock = self._clock()
        for start in range(0, len(users), chunk):
            services.refresh_habits_many(user_ids=users[start : start + chunk], as_of=as_of)
        elapsed = time.perf_counter() - clock[0]
        self._say(
            f"[{vendor}] refresh_habits_many, {len(users)} households in chunks of {chunk}: "
            f"{self._since(clock)} = {len(users) / elapsed:.0f} households/s"
        )
        self._single()

    def _single(self) -> None:
        """refresh_habits for the heaviest household, repeatedly: the one-shopper target."""
        vendor = connection.vendor
        as_of = self._as_of()
        heaviest = self._heaviest()
        lines = OrderLine.objects.filter(customer__user=heaviest).count()
        times, cpu = [], []
        for _ in range(self._single_runs):
            started, used = self._clock()
            services.refresh_habits(user=heaviest, as_of=as_of)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
        self._say(
            f"[{vendor}] refresh_habits for the heaviest household ({lines:,} lines, a year): "
            f"median {statistics.median(times) * 1000:.0f} ms wall, "
            f"{statistics.median(cpu) * 1000:.0f} ms CPU of {self._single_runs}; "
            f"{self._load_average()}"
        )

    def _heaviest(self) -> User:
        top = (
            OrderLine.objects.filter(order__source=SOURCE)
            .values("customer__user")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        return User.objects.get(pk=top["customer__user"])

    def _page(self, requests: int) -> None:
        user = self._heaviest()
        client = Client()
        client.force_login(user)
        with override_settings(ALLOWED_HOSTS=["testserver", *settings.ALLOWED_HOSTS]):
            for period in ("12m", "4w"):
                client.get("/habits/", {"period": period})  # warm up templates
                times, cpu = [], []
                for _ in range(requests):
                    started, used = self._clock()
                    response = client.get("/habits/", {"period": period})
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - used)
                    if response.status_code != 200:
                        raise CommandError(f"/habits/ answered {response.status_code}")
                with CaptureQueriesContext(connection) as queries:
                    client.get("/habits/", {"period": period})
                self._say(
                    f"[{connection.vendor}] /habits/?period={period} for {user.email}: median "
                    f"{statistics.median(times) * 1000:.1f} ms wall, "
                    f"{statistics.median(cpu) * 1000:.1f} ms CPU of {requests}, "
                    f"{len(queries)} queries, {len(response.content) / 1024:.0f} KiB; "
                    f"DEBUG {'on' if settings.DEBUG else 'off'}; {self._load_average()}"
                )
