"""Where the shipped repurchase model misses, on a validation cutoff (never a test basket).

Research script. Prints the share of target products bought before, the best Recall@10 any
ranking of own products could reach, where the model ranks the rankable target products,
and Recall@10 by target size, number of candidates and days until the target basket.

    .venv/bin/python scripts/forecast_error_analysis.py 2017-08-04
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.forecasts import evaluation as ev  # noqa: E402
from insights.forecasts import model as fm  # noqa: E402


def main(day: str) -> None:
    history = fm._prepare(ev.load_complete_journey())
    cutoff = pd.Timestamp(day, tz="UTC")
    split = ev.make_split(history, cutoff, before=cutoff + ev.VALIDATION_OFFSET)
    fitted = fm.fit_model(history, cutoff)
    ranked = fm.predict(history, cutoff, fitted, customer_ids=split.customers)
    targets = split.targets[["customer_id", "product_id", "placed_at"]]
    m = targets.merge(
        ranked[["customer_id", "product_id", "rank", "n_purchases"]],
        on=["customer_id", "product_id"],
        how="left",
    )
    size = targets.groupby("customer_id").size()
    n_candidates = ranked.groupby("customer_id").size().reindex(size.index)
    print(f"{day}: {split.n} households")
    print("target products bought before:", round(m["rank"].notna().mean(), 4))
    own = m[m["rank"].notna()].groupby("customer_id").size().reindex(size.index, fill_value=0)
    print(
        "best Recall@10 of any own-product ranking:", round((np.minimum(own, 10) / size).mean(), 4)
    )
    print("ranks of the rankable target products:")
    print(
        pd.cut(m["rank"].dropna(), [0, 10, 20, 50, 100, 200, 500, np.inf])
        .value_counts(normalize=True)
        .sort_index()
        .round(3)
    )
    print("their purchase counts before:")
    print(
        pd.cut(m["n_purchases"].dropna(), [0, 1, 2, 4, 8, 16, np.inf])
        .value_counts(normalize=True)
        .sort_index()
        .round(3)
    )
    hits = m[m["rank"] <= 10].groupby("customer_id").size().reindex(size.index, fill_value=0)
    days = (targets.groupby("customer_id")["placed_at"].min() - cutoff) / pd.Timedelta(days=1)
    frame = pd.DataFrame(
        {"recall": hits / size, "size": size, "candidates": n_candidates, "days": days}
    )
    for column, bins in (
        ("size", pd.qcut(frame["size"], 4, duplicates="drop")),
        ("candidates", pd.qcut(frame["candidates"], 4)),
        ("days", pd.cut(frame["days"], [0, 1, 2, 4, 7, 14, 28])),
    ):
        print(f"Recall@10 by {column}:")
        print(frame.groupby(bins, observed=True)["recall"].agg(["mean", "count"]).round(4))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "2017-08-04")
