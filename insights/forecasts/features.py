"""Per (shopper, product) repurchase features from a purchase history: pure pandas, explicit as_of.

Units: days for every duration, counts of baskets for basket recency. Input is the history
frame described by `HISTORY_COLUMNS` (tz-aware UTC `placed_at`); every function looks only
at lines placed strictly before `as_of`, so a feature can never see its own label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HISTORY_COLUMNS = [
    "customer_id",
    "order_id",
    "product_id",
    "placed_at",
    "quantity",
    "category_id",
    "department_id",
]
DAY = pd.Timedelta(days=1)
# Basket-order decays for recency-weighted frequency: a fast one (what the shopper buys
# now) and a slow one (their long-run staples); TIFU-KNN uses the same kind of decay.
FAST_DECAY = 0.7
SLOW_DECAY = 0.9
# Trip gaps used for the shopper's rhythm: recent ones, so a changed habit shows quickly.
RHYTHM_GAPS = 12
# Pseudo-observations of the prior interval when estimating a product's own interval:
# one interval observed twice should not yet outweigh the shopper's overall rate.
INTERVAL_PRIOR_WEIGHT = 1.0
# Shares of trips on one weekday above which the next trip is moved to that weekday.
WEEKDAY_HABIT_SHARE = 0.4


def history_before(history: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Lines placed strictly before `as_of`."""
    return history[history["placed_at"] < as_of]


def basket_table(history: pd.DataFrame) -> pd.DataFrame:
    """One row per order: customer, time, distinct products, position in the shopper's sequence.

    `bidx` counts from the shopper's first basket (0); `rev` counts back from the latest (0).
    """
    if history.empty:
        return pd.DataFrame(
            columns=["order_id", "customer_id", "placed_at", "n_products", "bidx", "rev"]
        )
    baskets = (
        history.groupby("order_id", sort=False)
        .agg(
            customer_id=("customer_id", "first"),
            placed_at=("placed_at", "min"),
            n_products=("product_id", "nunique"),
        )
        .reset_index()
        .sort_values(["customer_id", "placed_at", "order_id"], kind="mergesort")
        .reset_index(drop=True)
    )
    baskets["bidx"] = baskets.groupby("customer_id").cumcount()
    size = baskets.groupby("customer_id")["order_id"].transform("size")
    baskets["rev"] = size - 1 - baskets["bidx"]
    return baskets


def customer_rhythm(baskets: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per shopper: trips, typical gap between trips, typical basket size and next trip.

    The next trip is the last trip plus the median of the recent gaps; when that is already
    past, the shopper is "due" and the next trip is taken as one median gap's remainder
    from now. With a clear weekday habit the date moves to the nearest such weekday.
    """
    columns = [
        "customer_id",
        "n_baskets",
        "first_trip",
        "last_trip",
        "median_gap_days",
        "typical_basket_size",
        "next_trip_at",
    ]
    if baskets.empty:
        return pd.DataFrame(columns=columns)
    b = baskets.sort_values(["customer_id", "placed_at"], kind="mergesort")
    gaps = b.groupby("customer_id")["placed_at"].diff() / DAY
    b = b.assign(gap=gaps, recent=b["rev"] < RHYTHM_GAPS + 1)
    recent_gap = b[b["recent"]].groupby("customer_id")["gap"].median()
    per = b.groupby("customer_id").agg(
        n_baskets=("order_id", "size"),
        first_trip=("placed_at", "min"),
        last_trip=("placed_at", "max"),
        typical_basket_size=("n_products", "median"),
    )
    per["median_gap_days"] = recent_gap.reindex(per.index)
    # One basket: no rhythm of their own yet; a week is the commonest grocery rhythm.
    per["median_gap_days"] = per["median_gap_days"].fillna(7.0).clip(lower=0.5)
    per["typical_basket_size"] = per["typical_basket_size"].round().clip(lower=1).astype(int)

    since = (as_of - per["last_trip"]) / DAY
    gap = per["median_gap_days"]
    # Overdue shoppers: the remainder of the current gap (0 exactly at a multiple: "now").
    ahead = np.where(since < gap, gap - since, np.mod(gap - np.mod(since, gap), gap))
    ahead = np.maximum(ahead, 0.5)
    next_trip = as_of + pd.to_timedelta(ahead, unit="D")

    # Weekday habit: if most trips fall on one weekday, shift to the nearest such day
    # (never before as_of, never more than three days away).
    weekday = b.assign(wd=b["placed_at"].dt.day_of_week)
    counts = weekday.groupby(["customer_id", "wd"]).size().unstack(fill_value=0)
    share = counts.max(axis=1) / counts.sum(axis=1)
    habit = counts.idxmax(axis=1).where(share >= WEEKDAY_HABIT_SHARE)
    habit = habit.reindex(per.index)
    next_wd = pd.Series(next_trip.day_of_week, index=per.index)
    shift = ((habit - next_wd + 3) % 7) - 3  # in -3..3
    shifted = next_trip + pd.to_timedelta(shift.fillna(0).to_numpy(), unit="D")
    keep = shifted > as_of
    per["next_trip_at"] = pd.Series(np.where(keep, shifted, next_trip), index=per.index).astype(
        next_trip.dtype
    )
    return per.reset_index()[columns]


def customer_product_features(
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    baskets: pd.DataFrame | None = None,
    rhythm: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (customer, product) the shopper bought before `as_of`.

    Columns: counts and dates (n_purchases, first_bought, last_bought, last_rev), recency-
    weighted frequencies (dec_fast, dec_slow: share of decayed basket weight containing it),
    freq (share of baskets), interval_days (the product's own typical gap, shrunk towards
    the shopper's overall rate for it), gap_cv (regularity), days_since_last, days_to_trip,
    ratio (days since last purchase at the next trip / interval), recent quantity.
    """
    h = history_before(history, as_of)
    if baskets is None:
        baskets = basket_table(h)
    if rhythm is None:
        rhythm = customer_rhythm(baskets, as_of)
    if h.empty:
        return pd.DataFrame()
    lines = h.groupby(["customer_id", "order_id", "product_id"], sort=False, as_index=False).agg(
        quantity=("quantity", "sum"),
        category_id=("category_id", "first"),
        department_id=("department_id", "first"),
    )
    lines = lines.merge(baskets[["order_id", "placed_at", "rev"]], on="order_id", how="left")
    lines["w_fast"] = FAST_DECAY ** lines["rev"].to_numpy(dtype=float)
    lines["w_slow"] = SLOW_DECAY ** lines["rev"].to_numpy(dtype=float)
    lines = lines.sort_values(["customer_id", "product_id", "placed_at"], kind="mergesort")
    keys = [lines["customer_id"], lines["product_id"]]
    lines["gap"] = lines.groupby(keys, sort=False)["placed_at"].diff() / DAY
    # Quantity: median of the last three purchases (what they buy now, not a year ago).
    lines["from_end"] = lines.groupby(keys, sort=False).cumcount(ascending=False)

    grouped = lines.groupby(["customer_id", "product_id"], sort=False)
    cp = grouped.agg(
        n_purchases=("order_id", "size"),
        first_bought=("placed_at", "min"),
        last_bought=("placed_at", "max"),
        last_rev=("rev", "min"),
        w_fast=("w_fast", "sum"),
        w_slow=("w_slow", "sum"),
        gap_sum=("gap", "sum"),
        gap_n=("gap", "count"),
        gap_std=("gap", "std"),
        category_id=("category_id", "first"),
        department_id=("department_id", "first"),
    )
    # The same for the product's category: a shopper who switches brands of milk still
    # buys milk every week, which the product's own counts understate.
    cat_lines = lines.drop_duplicates(["customer_id", "category_id", "order_id"])
    cat_lines = cat_lines.sort_values(["customer_id", "category_id", "placed_at"], kind="mergesort")
    cat_lines = cat_lines.assign(
        cgap=cat_lines.groupby(["customer_id", "category_id"], sort=False)["placed_at"].diff() / DAY
    )
    cat = cat_lines.groupby(["customer_id", "category_id"], sort=False).agg(
        cat_n=("order_id", "size"),
        cat_w_slow=("w_slow", "sum"),
        cat_last=("placed_at", "max"),
        cat_gap_sum=("cgap", "sum"),
        cat_gap_n=("cgap", "count"),
    )
    recent_qty = lines[lines["from_end"] < 3].groupby(["customer_id", "product_id"])["quantity"]
    cp["expected_quantity"] = recent_qty.median().reindex(cp.index)
    cp = cp.reset_index()
    cp = cp.merge(cat.reset_index(), on=["customer_id", "category_id"], how="left")

    r = rhythm.set_index("customer_id")
    cust = cp["customer_id"]
    n_baskets = cust.map(r["n_baskets"]).astype(float)
    first_trip = cust.map(r["first_trip"])
    next_trip = cust.map(r["next_trip_at"])
    cp["n_baskets"] = n_baskets
    cp["median_trip_gap"] = cust.map(r["median_gap_days"]).astype(float)
    cp["days_since_trip"] = ((as_of - cust.map(r["last_trip"])) / DAY).astype(float)
    cp["freq"] = cp["n_purchases"] / n_baskets
    cp["dec_fast"] = cp["w_fast"] * (1 - FAST_DECAY) / (1 - FAST_DECAY**n_baskets)
    cp["dec_slow"] = cp["w_slow"] * (1 - SLOW_DECAY) / (1 - SLOW_DECAY**n_baskets)

    # Interval: the product's own gaps, shrunk towards the shopper's overall rate for it
    # (days observed / purchases), which is what a product bought once implies.
    span = ((as_of - first_trip) / DAY).clip(lower=1.0)
    rate_interval = span / cp["n_purchases"]
    cp["interval_days"] = (cp["gap_sum"] + INTERVAL_PRIOR_WEIGHT * rate_interval) / (
        cp["gap_n"] + INTERVAL_PRIOR_WEIGHT
    )
    cp["interval_days"] = cp["interval_days"].clip(lower=1.0)
    mean_gap = cp["gap_sum"] / cp["gap_n"].where(cp["gap_n"] > 0)
    cp["gap_cv"] = (cp["gap_std"] / mean_gap).fillna(1.0).clip(upper=3.0)
    cp["days_since_last"] = ((as_of - cp["last_bought"]) / DAY).astype(float)
    cp["days_to_trip"] = ((next_trip - as_of) / DAY).astype(float).clip(lower=0.0)
    cp["ratio"] = (cp["days_since_last"] + cp["days_to_trip"]) / cp["interval_days"]

    cp["cat_freq"] = cp["cat_n"] / n_baskets
    cp["cat_dec_slow"] = cp["cat_w_slow"] * (1 - SLOW_DECAY) / (1 - SLOW_DECAY**n_baskets)
    cp["share_in_cat"] = cp["n_purchases"] / cp["cat_n"]
    cat_rate = span / cp["cat_n"]
    cat_interval = (cp["cat_gap_sum"] + INTERVAL_PRIOR_WEIGHT * cat_rate) / (
        cp["cat_gap_n"] + INTERVAL_PRIOR_WEIGHT
    )
    cp["cat_interval_days"] = cat_interval.clip(lower=1.0)
    cat_since = ((as_of - cp["cat_last"]) / DAY).astype(float)
    cp["cat_own_ratio"] = (cat_since + cp["days_to_trip"]) / cp["cat_interval_days"]
    return cp.drop(
        columns=["w_fast", "w_slow", "gap_sum", "gap_std", "cat_w_slow", "cat_gap_sum", "cat_gap_n"]
    )


def next_basket_labels(
    history: pd.DataFrame, cutoff: pd.Timestamp, *, before: pd.Timestamp | None = None
) -> pd.DataFrame:
    """The first basket of each shopper at or after `cutoff` (and before `before`, if given).

    Returns customer_id, order_id, placed_at, product_id: the products of that basket.
    Shoppers with no such basket are absent (censored), never labelled "bought nothing".
    """
    after = history[history["placed_at"] >= cutoff]
    if before is not None:
        after = after[after["placed_at"] < before]
    if after.empty:
        return pd.DataFrame(columns=["customer_id", "order_id", "placed_at", "product_id"])
    firsts = (
        after.groupby("order_id", sort=False)
        .agg(customer_id=("customer_id", "first"), placed_at=("placed_at", "min"))
        .reset_index()
        .sort_values(["customer_id", "placed_at", "order_id"], kind="mergesort")
        .drop_duplicates("customer_id")
    )
    items = after[after["order_id"].isin(firsts["order_id"])][["order_id", "product_id"]]
    items = items.drop_duplicates()
    return firsts.merge(items, on="order_id")[
        ["customer_id", "order_id", "placed_at", "product_id"]
    ]
