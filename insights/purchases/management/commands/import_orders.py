"""Import orders from a CSV file: the whole file is one all-or-nothing batch."""

import csv
import os
from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from insights.purchases.ingest import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from insights.purchases.services import IngestResult, ingest_lines

CHUNK_ROWS = 100_000
SHOWN_ERRORS = 20

COLUMNS_HELP = """
CSV columns (a header row, UTF-8, comma-separated; one row per order line, the order's
columns repeated on each of its lines):
  external_id      the order's id in the sending system (with --source: idempotency key)
  customer_kind    loyalty_card | web | app
  customer_value   the card number / web shop id / app id
  channel          store | web | app
  store_id         the store (may be empty)
  placed_at        ISO 8601 with an offset or Z, e.g. 2026-10-01T10:00:00+02:00
  currency         3 capital letters, one per order, e.g. SEK
  sku              the product's SKU; unknown SKUs become unreviewed products
  product_name     optional; names a product created for an unknown SKU
  quantity         > 0, up to 3 decimals
  unit_price       >= 0, the price before discounts
  amount_paid      >= 0, what the line cost after discounts
  discount         optional, >= 0 (default 0)
  coupon_discount  optional, >= 0 (default 0)
  total_amount     optional; when given, the sum of the order's amount_paid
Errors name the CSV row (the header is row 1, the first data row is row 2).
"""


class Command(BaseCommand):
    help = "Import order lines from a CSV file as one batch: all of it or nothing."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        from argparse import RawDescriptionHelpFormatter

        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.epilog = COLUMNS_HELP
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument(
            "--source",
            default="csv",
            help="The system the orders come from (default 'csv'); orders are idempotent "
            "on (source, external_id).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and count, write nothing."
        )
        parser.add_argument(
            "--error-report",
            type=Path,
            help="Write every row error to this CSV (row, field, reason).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        frame = self._read(path, show_progress=options["verbosity"] > 0)
        self.stdout.write(f"Validating {len(frame):,} lines …")
        result = ingest_lines(source=options["source"], lines=frame, dry_run=options["dry_run"])
        if not result.ok:
            self._report_errors(result, options["error_report"])
        self._summary(result)

    def _read(self, path: Path, *, show_progress: bool) -> pd.DataFrame:
        """Read as text, in chunks under a progress bar; validation decides what is a number."""
        known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) - {"row"}
        chunks = []
        with (
            tqdm(
                total=os.path.getsize(path),
                unit="B",
                unit_scale=True,
                desc="Reading",
                disable=not show_progress,
                file=self.stderr._out,
            ) as bar,
            open(path, "rb") as handle,
        ):
            reader = pd.read_csv(
                handle,
                dtype=str,
                keep_default_na=False,
                chunksize=CHUNK_ROWS,
                encoding="utf-8",
                skipinitialspace=True,
            )
            seen = 0
            for chunk in reader:
                chunk = chunk[[c for c in chunk.columns if c in known]]
                # Row numbers as a spreadsheet shows them: the header is row 1.
                chunk["row"] = range(seen + 2, seen + 2 + len(chunk))
                seen += len(chunk)
                chunks.append(chunk)
                bar.update(handle.tell() - bar.n)
        if not chunks:
            raise CommandError(f"{path} has no header row.")
        return pd.concat(chunks, ignore_index=True)

    def _report_errors(self, result: IngestResult, report: Path | None) -> None:
        errors = result.errors
        self.stderr.write(f"{len(errors):,} row errors; nothing was written.")
        for error in errors[:SHOWN_ERRORS]:
            self.stderr.write(f"  row {error.row}: {error.field}: {error.reason}")
        if len(errors) > SHOWN_ERRORS:
            self.stderr.write(f"  … and {len(errors) - SHOWN_ERRORS:,} more")
        if report is not None:
            with open(report, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["row", "field", "reason"])
                writer.writerows((e.row, e.field, e.reason) for e in errors)
            self.stderr.write(f"All errors written to {report}.")
        raise CommandError("The file was not imported.", returncode=1)

    def _summary(self, result: IngestResult) -> None:
        verb = "Would create" if result.dry_run else "Created"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {result.orders_created:,} orders with {result.lines_created:,} lines "
                f"({result.customers_created:,} new customers, {result.products_created:,} new "
                f"unreviewed products); {result.duplicates:,} orders were already stored."
            )
        )
        if result.dry_run:
            self.stdout.write("Dry run: nothing was written.")
