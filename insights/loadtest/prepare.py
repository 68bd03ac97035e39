"""Get a demo database ready for the load test: check it is full, derive every shopper's pages.

The demo loader queues each shopper's refresh for a worker. A benchmark cannot wait for a
worker to drain 2,000 single-shopper refreshes, so `derive_for_everyone` runs the services
the nightly Celery jobs run (the same batch functions, the same chunk sizes) in this
process, and says how long each took: those figures are what one worker does.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone

from accounts.consent import allowed_user_ids
from accounts.models import User
from accounts.purposes import INSIGHTS, PANTRY, PREDICTIONS
from insights.bench import backend_cpu_seconds
from insights.forecasts import services as forecasts
from insights.forecasts.models import ForecastRun, ShoppingList
from insights.habits import services as habits
from insights.habits.models import HabitSnapshot
from insights.habits.tasks import CHUNK_SIZE as HABITS_CHUNK
from insights.pantry import services as pantry
from insights.pantry.models import PantrySettings
from insights.purchases import demo
from insights.purchases.models import Order, OrderLine

FILL_COMMAND = "manage.py load_demo --households all"


class NotReady(Exception):
    """The database cannot be benchmarked as it is; the message says what to run."""


@dataclass
class DemoState:
    """How much of the demo is in the database."""

    households_in_data: int
    households_loaded: int
    orders: int

    @property
    def complete(self) -> bool:
        return self.households_loaded >= self.households_in_data > 0


def demo_state() -> DemoState:
    """Households in the Complete Journey files against demo households with orders stored."""
    path = demo.data_dir() / "transactions.parquet"
    households = pq.read_table(path, columns=["household_id"]).column("household_id")
    in_data = len(np.unique(households.to_numpy()))
    loaded = (
        Order.objects.filter(source=demo.SOURCE, customer__user__isnull=False)
        .values("customer")
        .distinct()
        .count()
    )
    return DemoState(
        households_in_data=in_data, households_loaded=loaded, orders=Order.objects.count()
    )


def refusal(vendor: str, state: DemoState) -> str | None:
    """Why a database cannot be load-tested (naming the command that fills it), or None."""
    if vendor != "postgresql":
        return (
            "The load test runs against PostgreSQL: set DATABASE_URL to a database holding "
            f"the full demo (fill an empty one with `{FILL_COMMAND}`)."
        )
    if not state.complete:
        return (
            f"This database has {state.households_loaded:,} of the "
            f"{state.households_in_data:,} demo households ({state.orders:,} orders). "
            f"The load test needs the full demo: run `{FILL_COMMAND}` on an empty database "
            "(DATABASE_URL) first."
        )
    return None


def pending_migrations() -> list[str]:
    """Migrations the code has and the database has not ("app.name")."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    return [f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(targets)]


def check_full_demo() -> DemoState:
    """The demo state, or NotReady naming the command that fills the database."""
    pending = pending_migrations()
    if pending:
        raise NotReady(
            f"The database lacks {len(pending)} migration(s) of this code ({pending[0]}, ...): "
            "run `manage.py migrate` on it first."
        )
    state = demo_state()
    problem = refusal(connection.vendor, state)
    if problem:
        raise NotReady(problem)
    return state


@dataclass
class Derived:
    """How many consenting shoppers lack each kind of derived data."""

    habits_missing: int
    lists_missing: int
    pantries_missing: int

    @property
    def complete(self) -> bool:
        return not (self.habits_missing or self.lists_missing or self.pantries_missing)


def derived_state() -> Derived:
    """Consenting shoppers whose habits, list or pantry were never computed."""
    insights = allowed_user_ids(INSIGHTS)
    predictions = allowed_user_ids(PREDICTIONS)
    pantries = allowed_user_ids(PANTRY)
    with_habits = set(
        HabitSnapshot.objects.filter(user_id__in=insights).values_list("user_id", flat=True)
    )
    with_lists = set(
        ShoppingList.objects.filter(user_id__in=predictions, computed_at__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    # build_pantry creates the settings row first, so it marks a build even with no items.
    with_pantry = set(
        PantrySettings.objects.filter(user_id__in=pantries).values_list("user_id", flat=True)
    )
    return Derived(
        habits_missing=len(insights - with_habits),
        lists_missing=len(predictions - with_lists),
        pantries_missing=len(pantries - with_pantry),
    )


@dataclass
class DeriveTimings:
    """Per step: shoppers covered, wall seconds, this process's CPU seconds, and the CPU
    seconds of the PostgreSQL backend serving it (None where /proc cannot tell)."""

    steps: list[tuple[str, int, float, float, float | None]] = field(default_factory=list)

    def add(self, name: str, shoppers: int, wall: float, cpu: float, db: float | None) -> None:
        self.steps.append((name, shoppers, wall, cpu, db))


def _timed(timings: DeriveTimings, name: str, shoppers: int, work: Callable[[], object]) -> None:
    wall, cpu, db = time.perf_counter(), time.process_time(), backend_cpu_seconds()
    work()
    db_after = backend_cpu_seconds()
    timings.add(
        name,
        shoppers,
        time.perf_counter() - wall,
        time.process_time() - cpu,
        None if db is None or db_after is None else db_after - db,
    )


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def derive_for_everyone(
    *, now: datetime | None = None, say: Callable[[str], None] = lambda _: None
) -> DeriveTimings:
    """Habits, the forecast model and lists, pantries and reminders for every consenting shopper.

    The same services and chunk sizes as the nightly jobs (`refresh_habits_batch_task`,
    `fit_forecast_model_task`, `refresh_forecasts_task`, `build_pantry_task`,
    `send_due_reminders_task`); each is idempotent, so running this twice only repeats work.
    Digest e-mails go to Django's dummy backend: the benchmark sends no mail.
    """
    now = now or timezone.now()
    timings = DeriveTimings()
    active = set(User.objects.filter(is_active=True).values_list("pk", flat=True))

    insights = sorted(allowed_user_ids(INSIGHTS) & active)
    say(f"habits: {len(insights):,} shoppers in chunks of {HABITS_CHUNK}")

    def habits_all() -> None:
        for chunk in _chunks(insights, HABITS_CHUNK):
            habits.refresh_habits_many(user_ids=chunk, as_of=now)

    _timed(timings, "habits (3 periods each)", len(insights), habits_all)

    say("forecasts: the nightly model fit")
    contributors = len(forecasts.contributor_customer_ids())
    _timed(
        timings, "forecast model fit", contributors, lambda: forecasts.fit_forecast_model(as_of=now)
    )

    predictions = sorted(allowed_user_ids(PREDICTIONS) & active)
    size = int(getattr(settings, "FORECAST_REFRESH_CHUNK", 500))
    say(f"forecasts: {len(predictions):,} lists in chunks of {size}")

    def lists_all() -> None:
        for chunk in _chunks(predictions, size):
            forecasts.refresh_forecasts(user_ids=chunk, as_of=now, kind=ForecastRun.Kind.NIGHTLY)

    _timed(timings, "forecasts and lists", len(predictions), lists_all)

    pantries = sorted(allowed_user_ids(PANTRY) & active)
    say(f"pantry: {len(pantries):,} pantries")
    _timed(
        timings,
        "pantry build (receipts since each last build)",
        len(pantries),
        lambda: pantry.build_pantries(user_ids=pantries, now=now),
    )
    say("pantry: the hourly reminder job")
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        _timed(
            timings,
            "reminder job (first run)",
            len(pantries),
            lambda: pantry.send_due_reminders(now=now),
        )
    return timings


def choose_shoppers(n: int, seed: int = demo.DEFAULT_SEED) -> list[tuple[str, int]]:
    """`n` demo logins spread from light to heavy: (e-mail, order lines), heaviest included.

    Logins with every purpose granted are ranked by order lines and cut into `n` strata;
    one is drawn from each (the same per seed), and the heaviest stratum always gives its
    heaviest, so the slowest pages are in the mix.
    """
    everything = allowed_user_ids(INSIGHTS) & allowed_user_ids(PREDICTIONS)
    everything &= allowed_user_ids(PANTRY)
    # Order lines carry the customer, not the login (no reverse relation): count from them.
    rows = list(
        OrderLine.objects.filter(
            customer__user__in=everything,
            customer__user__is_active=True,
            customer__user__email__startswith="demo-",
            customer__user__email__endswith="@kvitto.example",
        )
        .values_list("customer__user__email")
        .annotate(lines=Count("pk"))
        .order_by("lines", "customer__user__email")
    )
    if len(rows) < n:
        raise NotReady(
            f"Only {len(rows):,} demo shoppers have orders and every purpose granted; "
            f"{n:,} simulated shoppers need as many (run `{FILL_COMMAND}`)."
        )
    rng = np.random.default_rng(seed)
    strata = np.array_split(np.arange(len(rows)), n)
    picked = [int(rng.choice(stratum)) for stratum in strata[:-1]] + [len(rows) - 1]
    return [rows[i] for i in picked]


def refresh_statistics() -> tuple[float, str]:
    """ANALYZE this database, as autovacuum would after a bulk load; (seconds, autovacuum).

    Without statistics PostgreSQL guesses row counts, and on a freshly loaded copy it
    hash-joins the whole catalog for one order's lines (100 ms instead of 1 ms). A server
    with autovacuum off (this shared one) never gathers them by itself.
    """
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    return time.perf_counter() - started, autovacuum
