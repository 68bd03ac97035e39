"""Write every consenting shopper's ranked predictions as of a moment to a CSV file."""

from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from insights.forecasts.services import export_predictions


def parse_as_of(value: str) -> datetime:
    """An ISO date or date-time; naive values are in UTC."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--as-of {value!r} is not an ISO date or date-time.")
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class Command(BaseCommand):
    help = (
        "Predict each customer's next basket from orders placed before --as-of only, and write "
        "one row per (customer, rank): source, external_id, rank, sku, probability, "
        "expected_date, prediction_source. See docs/forecasting-export.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", required=True, help="ISO date or date-time (UTC if naive).")
        parser.add_argument("--out", required=True, help="CSV file to write.")
        parser.add_argument("--top", type=int, default=20, help="Products per customer (20).")
        parser.add_argument(
            "--include-unlinked",
            action="store_true",
            help="Also customers without a Kvitto login (the store's own data; see the docs).",
        )

    def handle(self, *args: object, **options: object) -> None:
        as_of = parse_as_of(str(options["as_of"]))
        top = int(options["top"])
        if top < 1:
            raise CommandError("--top must be at least 1.")
        out = Path(str(options["out"]))
        if not out.parent.exists():
            raise CommandError(f"The folder {out.parent} does not exist.")
        started = timezone.now()
        frame = export_predictions(
            as_of=as_of, top_k=top, include_unlinked=bool(options["include_unlinked"])
        )
        frame.to_csv(out, index=False)
        seconds = (timezone.now() - started).total_seconds()
        customers = frame[["source", "external_id"]].drop_duplicates().shape[0]
        self.stdout.write(
            f"Wrote {len(frame)} predictions for {customers} customers as of "
            f"{as_of.isoformat()} to {out} in {seconds:.1f} s."
        )
