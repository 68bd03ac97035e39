"""Time the hourly reminder job over every household's pantry, counting queries.

Two sources of pantries:

* `--from-orders` (after `manage.py load_demo --households all`): every shopper with orders
  is granted PANTRY (and EMAIL for `--email-share` of them), their pantries are built from
  the orders by the real service (timed too), then the job runs. With `--ingest`, the
  Complete Journey is first ingested through `purchases.services.ingest_lines` (when no
  `completejourney` orders are stored yet), each customer gets a login, and products get
  perishability and shelf life from the map below: a stand-in for the demo loader.
* default, `--synthetic`: pantries are made straight from The Complete Journey's
  transactions (2,469 households), without orders in the database: each household gets a
  login, and every perishable line whose estimated date is at most a week past `--as-of`
  becomes an item. Shelf lives are a rough per-department map (below); the figure is about
  the job's cost over a realistic number and spread of items, not about the estimates.

The job then runs twice at 10:00 Stockholm time on the as-of date: the first run creates
the notifications and sends the digests (to an in-memory mailbox), the second must create
and send nothing. Rows are written for real: use `--throwaway` (a fresh PostgreSQL database,
dropped afterwards) or your own DATABASE_URL; `--reset` deletes synthetic shoppers first.
"""

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Max
from django.test.utils import override_settings

from accounts.consent import current_text
from accounts.models import ConsentEvent, Customer, User
from accounts.purposes import EMAIL, PANTRY
from insights.catalog.models import Category, Department, Product
from insights.pantry import services, shelf_life
from insights.pantry.models import DigestLog, Notification, PantryItem, PantrySettings
from insights.purchases.management.commands.bench_ingest import (
    DEFAULT_POSTGRES_URL,
    _create_postgres_db,
    transactions_path,
)
from insights.purchases.models import OrderLine

# Logins the bench creates: synthetic households, and logins for ingested customers.
SYNTHETIC_DOMAIN = "synthetic.bench-pantry.invalid"
ORDERS_DOMAIN = "orders.bench-pantry.invalid"
# Days an item keeps, by Complete Journey department (and a few grocery categories).
DEPARTMENT_DAYS = {
    "PRODUCE": 7,
    "MEAT": 4,
    "MEAT-PCKGD": 10,
    "DELI": 6,
    "PASTRY": 4,
    "SEAFOOD": 2,
    "SEAFOOD-PCKGD": 90,
}
CATEGORY_DAYS = {
    "FLUID MILK PRODUCTS": 10,
    "YOGURT": 21,
    "CHEESE": 30,
    "EGGS": 28,
    "BAKED BREAD/BUNS/ROLLS": 6,
    "REFRGRATD DOUGH PRODUCTS": 30,
    "FRZN MEAT/MEAT DINNERS": 180,
    "FROZEN PIZZA": 180,
}


class QueryCounter:
    """Counts every statement sent to the database (CaptureQueriesContext keeps only 9,000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001, ANN204
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> "QueryCounter":
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(*exc)


class Command(BaseCommand):
    help = "Benchmark send_due_reminders over every household's pantry (wall time, queries)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from-orders", action="store_true", help="Use loaded demo orders.")
        parser.add_argument(
            "--ingest", action="store_true", help="With --from-orders: ingest CJ first if absent."
        )
        parser.add_argument("--households", type=int, default=None, help="Synthetic: first N.")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument("--email-share", type=float, default=0.5)
        parser.add_argument("--chunk-size", type=int, default=services.CHUNK_SIZE)
        parser.add_argument(
            "--reset", action="store_true", help="Delete the synthetic shoppers first."
        )
        parser.add_argument(
            "--throwaway",
            action="store_true",
            help="Run in a fresh PostgreSQL database created on --postgres-url and dropped after.",
        )
        parser.add_argument(
            "--postgres-url",
            default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
            help=f"Server for --throwaway (default {DEFAULT_POSTGRES_URL} or $BENCH_POSTGRES_URL).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["throwaway"]:
            self._run_in_throwaway_database(options)
            return
        if options["reset"]:
            deleted = User.objects.filter(email__endswith=f"@{SYNTHETIC_DOMAIN}").delete()
            self.stdout.write(f"Deleted bench shoppers: {deleted[0]} rows")
        if options["from_orders"]:
            if options["ingest"]:
                self._ingest_complete_journey(options["households"])
            user_ids, as_of = self._from_orders(options)
        else:
            user_ids, as_of = self._synthetic(options)
        now = datetime.combine(as_of, datetime.min.time(), tzinfo=ZoneInfo("Europe/Stockholm"))
        now = (now + timedelta(hours=10)).astimezone(UTC)
        items = PantryItem.objects.filter(user_id__in=user_ids, state="in_pantry").count()
        Notification.objects.filter(user_id__in=user_ids).delete()
        DigestLog.objects.filter(user_id__in=user_ids).delete()
        self.stdout.write(
            f"{len(user_ids)} shoppers, {items} items in pantries, "
            f"job at {now:%Y-%m-%d %H:%M} UTC, database {connection.vendor}"
        )
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            for label in ("first run", "second run (idempotent)"):
                with QueryCounter() as queries:
                    started = time.perf_counter()
                    stats = services.send_due_reminders(
                        now=now, chunk_size=options["chunk_size"], user_ids=user_ids
                    )
                    elapsed = time.perf_counter() - started
                n = queries.count
                self.stdout.write(
                    f"{label}: {elapsed:.2f} s, {n} queries "
                    f"({n / max(stats.shoppers, 1):.2f} per shopper, "
                    f"{n / max(stats.chunks, 1):.0f} per chunk of {options['chunk_size']}), "
                    f"{stats.notifications} notifications, {stats.digests} digests, "
                    f"{stats.skipped_quiet} held for quiet hours"
                )

    def _run_in_throwaway_database(self, options: dict) -> None:
        """Migrate a fresh database and run this command in a child process pointed at it,
        so the database the project is configured with is never touched."""
        url, drop = _create_postgres_db(options["postgres_url"])
        argv = ["--email-share", str(options["email_share"])]
        argv += ["--chunk-size", str(options["chunk_size"])]
        argv += ["--from-orders"] * options["from_orders"] + ["--ingest"] * options["ingest"]
        if options["households"]:
            argv += ["--households", str(options["households"])]
        if options["as_of"]:
            argv += ["--as-of", options["as_of"].isoformat()]
        try:
            with tempfile.TemporaryDirectory(prefix="kvitto-bench-") as var_dir:
                env = {**os.environ, "DATABASE_URL": url, "KVITTO_VAR_DIR": var_dir}
                env.setdefault("SECRET_KEY", "bench-only")
                manage = str(Path(settings.BASE_DIR) / "manage.py")
                for command in (["migrate", "--noinput", "-v0"], ["bench_reminders", *argv]):
                    self.stdout.write(f"$ manage.py {' '.join(command)}")
                    self.stdout.flush()
                    # Our own manage.py with this command's own arguments.
                    completed = subprocess.run(  # noqa: S603
                        [sys.executable, manage, *command], env=env, check=False
                    )
                    if completed.returncode != 0:
                        raise CommandError(f"{command[0]} failed in the throwaway database")
        finally:
            drop()

    def _grant(self, user_ids: list[int], email_share: float) -> None:
        texts = {p: current_text(p) for p in (PANTRY, EMAIL)}
        ConsentEvent.objects.filter(user_id__in=user_ids, purpose__in=[PANTRY, EMAIL]).delete()
        events = [
            ConsentEvent(
                user_id=uid, purpose=PANTRY, text=texts[PANTRY], granted=True, method="demo"
            )
            for uid in user_ids
        ]
        cut = int(len(user_ids) * email_share)
        events += [
            ConsentEvent(user_id=uid, purpose=EMAIL, text=texts[EMAIL], granted=True, method="demo")
            for uid in user_ids[:cut]
        ]
        ConsentEvent.objects.bulk_create(events, batch_size=2000)

    def _from_orders(self, options: dict) -> tuple[list[int], date]:
        user_ids = sorted(
            set(
                Customer.objects.filter(user__isnull=False, orders__isnull=False).values_list(
                    "user_id", flat=True
                )
            )
        )
        latest = OrderLine.objects.aggregate(top=Max("placed_at"))["top"]
        as_of = options["as_of"] or (latest.date() + timedelta(days=2))
        self._grant(user_ids, options["email_share"])
        PantryItem.objects.filter(user_id__in=user_ids).delete()
        PantrySettings.objects.filter(user_id__in=user_ids).update(processed_line_id=0)
        build_now = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC)
        started = time.perf_counter()
        with QueryCounter() as queries:
            created = services.build_pantries(user_ids=user_ids, now=build_now)
        self.stdout.write(
            f"built pantries: {created} items for {len(user_ids)} shoppers in "
            f"{time.perf_counter() - started:.2f} s, {queries.count} queries "
            f"({queries.count / max(len(user_ids), 1):.1f} per shopper)"
        )
        return user_ids, as_of

    def _ingest_complete_journey(self, households: int | None) -> None:
        import numpy as np

        from insights.purchases.management.commands.bench_ingest import complete_journey_frame
        from insights.purchases.services import ingest_lines

        if not OrderLine.objects.filter(order__source="completejourney").exists():
            started = time.perf_counter()
            frame, _ = complete_journey_frame(households)
            codes, _ = pd.factorize(frame["external_id"])
            bounds = np.unique(
                np.append(
                    np.searchsorted(codes, np.arange(0, codes.max() + 5000, 5000)), len(frame)
                )
            )
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
                result = ingest_lines(source="completejourney", lines=frame.iloc[start:stop])
                if not result.ok:
                    raise CommandError(f"ingest failed: {result.errors[:5]}")
            self.stdout.write(
                f"ingested {len(frame)} lines in {time.perf_counter() - started:.1f} s"
            )
        with transaction.atomic():
            loose = list(Customer.objects.filter(user__isnull=True).prefetch_related("identifiers"))
            users = User.objects.bulk_create(
                [
                    User(
                        email=f"household-{c.identifiers.all()[0].value}@{ORDERS_DOMAIN}",
                        password=make_password(None),
                    )
                    for c in loose
                ],
                batch_size=2000,
            )
            for customer, user in zip(loose, users, strict=True):
                customer.user_id = user.pk
            Customer.objects.bulk_update(loose, ["user"], batch_size=2000)
            products = pd.read_parquet(
                transactions_path().parent / "products.parquet",
                columns=["product_id", "department", "product_category"],
            )
            days = products["product_category"].map(CATEGORY_DAYS)
            products["days"] = days.fillna(products["department"].map(DEPARTMENT_DAYS))
            for value, group in products.dropna(subset=["days"]).groupby("days"):
                skus = [str(pid) for pid in group["product_id"]]
                Product.objects.filter(sku__in=skus, shelf_life_days__isnull=True).update(
                    perishable=True, shelf_life_days=int(value)
                )

    @transaction.atomic
    def _synthetic(self, options: dict) -> tuple[list[int], date]:
        started = time.perf_counter()
        data = pd.read_parquet(
            transactions_path(),
            columns=[
                "household_id",
                "product_id",
                "quantity",
                "sales_value",
                "transaction_timestamp",
            ],
        )
        products = pd.read_parquet(
            transactions_path().parent / "products.parquet",
            columns=["product_id", "department", "product_category", "product_type"],
        )
        households = sorted(data["household_id"].unique())
        if options["households"]:
            households = households[: options["households"]]
            data = data[data["household_id"].isin(households)]
        as_of = options["as_of"] or data["transaction_timestamp"].max().date()
        products["days"] = products["product_category"].map(CATEGORY_DAYS)
        products["days"] = products["days"].fillna(products["department"].map(DEPARTMENT_DAYS))
        products = products.dropna(subset=["days"])
        lines = data.merge(products, on="product_id")
        lines = lines[lines["quantity"] > 0]
        lines["bought_on"] = lines["transaction_timestamp"].dt.date
        lines["best_before"] = [
            b + timedelta(days=int(d))
            for b, d in zip(lines["bought_on"], lines["days"], strict=True)
        ]
        lines = lines[
            [
                shelf_life.is_worth_tracking(bb, as_of=as_of) and b <= as_of
                for bb, b in zip(lines["best_before"], lines["bought_on"], strict=True)
            ]
        ]
        self.stdout.write(f"read Complete Journey: {len(lines)} trackable lines, as of {as_of}")

        department, _ = Department.objects.get_or_create(name="Bench (Complete Journey)")
        categories = {}
        for name in sorted(lines["department"].unique()):
            categories[name], _ = Category.objects.get_or_create(
                department=department, name=f"CJ {name}"
            )
        wanted = lines.drop_duplicates("product_id")
        Product.objects.bulk_create(
            [
                Product(
                    sku=f"CJ{row.product_id}",
                    name=str(row.product_type or row.product_category).title()[:200],
                    category=categories[row.department],
                    perishable=True,
                    shelf_life_days=int(row.days),
                )
                for row in wanted.itertuples()
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
        product_ids = dict(Product.objects.filter(sku__startswith="CJ").values_list("sku", "pk"))

        emails = [f"household-{h}@{SYNTHETIC_DOMAIN}" for h in households]
        User.objects.bulk_create(
            [
                User(email=e, password=make_password(None), name=f"Household {h}")
                for e, h in zip(emails, households, strict=True)
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
        users = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
        user_by_household = {h: users[e] for e, h in zip(emails, households, strict=True)}
        user_ids = sorted(user_by_household.values())
        Customer.objects.bulk_create(
            [Customer(user_id=uid) for uid in user_ids], ignore_conflicts=True, batch_size=2000
        )
        self._grant(user_ids, options["email_share"])
        PantryItem.objects.filter(user_id__in=user_ids).delete()
        items = []
        for row in lines.itertuples():
            days = int(row.days)
            items.append(
                PantryItem(
                    user_id=user_by_household[row.household_id],
                    product_id=product_ids[f"CJ{row.product_id}"],
                    quantity=Decimal(str(row.quantity)),
                    bought_on=row.bought_on,
                    best_before=row.best_before,
                    estimated_best_before=row.best_before,
                    shelf_life_days=days,
                    estimate_rule="product",
                    rule_days=days,
                    due_soon_on=row.best_before - timedelta(days=2),
                    value=Decimal(str(round(row.sales_value, 2))),
                )
            )
        PantryItem.objects.bulk_create(items, batch_size=5000)
        self.stdout.write(
            f"made {len(items)} items for {len(user_ids)} households in "
            f"{time.perf_counter() - started:.1f} s"
        )
        return user_ids, as_of
