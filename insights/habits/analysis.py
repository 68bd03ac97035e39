"""Habit summaries in pure pandas: many shoppers' order lines in, aggregates and highlights out.

Input is a *lines frame*, one row per order line, with the columns in `LINE_COLUMNS`
(plus an optional `shopper` column when several shoppers are analysed at once):

    order_id, placed_at (tz-aware or naive, already in the shopper's local time),
    channel, product_id, product_name, category_id, category_name, department_id,
    department_name, quantity, amount_paid, discount, coupon_discount (floats, currency units)

`amount_paid` is what the shopper paid for the line (after discounts); `discount` and
`coupon_discount` are what they saved, as positive numbers. Departments that are never
analysed (fuel, coupons) must be filtered out before calling.

Everything is computed with group-bys over *all* shoppers at once (`summarise_many`),
so the nightly batch costs a few vectorised passes, not a Python loop per shopper;
`summarise` is the same code for one shopper. No ORM, settings or clock: `as_of` and
the window are explicit.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

LINE_COLUMNS = (
    "order_id",
    "placed_at",
    "channel",
    "product_id",
    "product_name",
    "category_id",
    "category_name",
    "department_id",
    "department_name",
    "quantity",
    "amount_paid",
    "discount",
    "coupon_discount",
)
PERIOD_KEYS = ("4w", "3m", "12m")
TOP_N = 10
# How many departments get their own colour in the monthly chart; the rest are "other".
MAX_DEPARTMENT_SERIES = 7
OTHER_ID = -1
# The categories past the first MAX_CATEGORIES of a shopper, folded into one row.
MAX_CATEGORIES = 40
FOLDED_ID = -2

# State of a summary: nothing bought yet, a little (some sections wait), enough.
EMPTY, THIN, OK = "empty", "thin", "ok"


@dataclass(frozen=True)
class Thresholds:
    """When a difference is worth telling the shopper about (see `find_highlights`)."""

    min_trips: int = 4  # trips in each compared window before anything is compared
    min_relative_change: float = 0.20  # |now - before| / before
    min_absolute_change: float = 20.0  # currency units, so 5 -> 7 kr on spices is not news
    min_z: float = 1.96  # two-sided 5 % on the normal approximation
    min_purchase_trips: int = 3  # trips with the category, in the larger window
    weekday_min_trips: int = 6
    weekday_min_share_change: float = 0.20  # percentage points of trips, as a fraction
    favourite_min_trips: int = 3  # bought on at least this many trips in the window
    favourite_max_before: int = 1  # and on at most this many trips ever before it
    max_highlights: int = 5
    max_favourites: int = 2


@dataclass(frozen=True)
class Window:
    """A closed range of local calendar days."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def previous(self) -> Window:
        """The window of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Window(end - timedelta(days=self.days - 1), end)


def period_window(period: str, as_of: date) -> Window:
    """The window a period key stands for, ending on `as_of` (inclusive)."""
    if period == "4w":
        return Window(as_of - timedelta(days=27), as_of)
    if period == "3m":
        start = (pd.Timestamp(as_of) - pd.DateOffset(months=3)).date() + timedelta(days=1)
        return Window(start, as_of)
    if period == "12m":
        start = (pd.Timestamp(as_of) - pd.DateOffset(months=12)).date() + timedelta(days=1)
        return Window(start, as_of)
    raise ValueError(f"Unknown period {period!r}; use one of {PERIOD_KEYS} or a custom window.")


@dataclass
class Highlight:
    """One "what changed" card: a stable key (for dismissal), its kind and the numbers compared.

    `template` is the English sentence (str.format over `params`); the web layer has
    translated templates per `kind`.
    """

    key: str
    kind: str
    params: dict[str, Any]
    score: float
    template: str

    @property
    def text(self) -> str:
        return self.template.format(**self.params)


@dataclass
class HabitSummary:
    """Everything the habits page shows for one shopper and one window."""

    shopper: Hashable
    window: Window
    previous: Window
    state: str
    totals: dict[str, float]
    rhythm: dict[str, float | None]
    monthly: pd.DataFrame  # month, department_id, department_name, spend, share
    departments: pd.DataFrame  # department_id, department_name, spend, share
    categories: pd.DataFrame  # category_id, category_name, department_id, ..., spend, share, trips
    top_by_spend: pd.DataFrame  # product_id, product_name, category_id, spend, trips, quantity
    top_by_count: pd.DataFrame
    heatmap: pd.DataFrame  # 7 rows (Mon=0) x 24 columns, trip counts
    channels: pd.DataFrame  # channel, trips, spend, share
    basket_trend: pd.DataFrame  # bucket (date), trips, avg_value, avg_items
    trend_unit: str  # "week" or "month"
    highlights: list[Highlight] = field(default_factory=list)
    waiting_for: list[str] = field(default_factory=list)


# -- preparation -------------------------------------------------------------------------


def prepare_lines(lines: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
    """Validate the columns, fix dtypes, convert `placed_at` to `tz`, add date/weekday/hour."""
    missing = [c for c in LINE_COLUMNS if c not in lines.columns]
    if missing:
        raise ValueError(f"The lines frame lacks the columns {missing}.")
    frame = lines.copy()
    if "shopper" not in frame.columns:
        frame["shopper"] = 0
    placed = pd.to_datetime(frame["placed_at"])
    if tz is not None:
        placed = placed.dt.tz_localize("UTC") if placed.dt.tz is None else placed
        placed = placed.dt.tz_convert(tz)
    frame["placed_at"] = placed
    for column in ("quantity", "amount_paid", "discount", "coupon_discount"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("float64").fillna(0.0)
    for column in ("category_id", "department_id"):
        frame[column] = frame[column].fillna(OTHER_ID).astype("int64")
    frame["category_name"] = frame["category_name"].fillna("").astype(object)
    frame["department_name"] = frame["department_name"].fillna("").astype(object)
    frame["product_name"] = frame["product_name"].astype(object)
    frame["channel"] = frame["channel"].astype(object)
    local = frame["placed_at"].dt.tz_localize(None) if placed.dt.tz is not None else placed
    frame["day"] = local.dt.normalize()
    frame["weekday"] = local.dt.day_of_week.astype("int64")
    frame["hour"] = local.dt.hour.astype("int64")
    return frame


def _in_window(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    start = pd.Timestamp(window.start)
    end = pd.Timestamp(window.end)
    return frame[(frame["day"] >= start) & (frame["day"] <= end)]


_TRIP_FIRST = ["shopper", "order_id", "placed_at", "day", "weekday", "hour", "channel"]
_TRIP_SUMS = {
    "amount_paid": "value",
    "quantity": "items",
    "discount": "discount",
    "coupon_discount": "coupon_discount",
}


def _trips(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per order: when, where, how much, how many lines and items."""
    columns = [*_TRIP_FIRST, *_TRIP_SUMS.values(), "lines"]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    # An order's lines share its time and channel: take them from its first line, and sum
    # the amounts in one grouped pass (much cheaper than one aggregation per column).
    firsts = lines.drop_duplicates(["shopper", "order_id"])[_TRIP_FIRST]
    grouped = lines.groupby(["shopper", "order_id"], sort=False)
    sums = grouped[list(_TRIP_SUMS)].sum().rename(columns=_TRIP_SUMS)
    sums["lines"] = grouped.size()
    trips = firsts.join(sums, on=["shopper", "order_id"])
    return trips[columns].reset_index(drop=True)


def _share(values: pd.Series, totals: pd.Series) -> pd.Series:
    """values / totals, 0 where the total is 0 (never NaN or inf)."""
    out = values / totals.where(totals != 0)
    return out.fillna(0.0)


def _bounds(shopper_column: pd.Series) -> dict[Hashable, tuple[int, int]]:
    """Row ranges of each shopper in a frame sorted by shopper."""
    values = shopper_column.to_numpy()
    if len(values) == 0:
        return {}
    keys, starts = np.unique(values, return_index=True)
    ends = np.append(starts[1:], len(values))
    return {key: (int(a), int(b)) for key, a, b in zip(keys.tolist(), starts, ends, strict=True)}


@dataclass
class HabitFrames:
    """The aggregates of many shoppers at once; frames sorted by `shopper`."""

    shoppers: list[Hashable]
    window: Window
    previous: Window
    trend_unit: str
    thresholds: Thresholds
    totals: pd.DataFrame  # indexed by shopper
    rhythm: pd.DataFrame  # indexed by shopper
    tables: dict[str, pd.DataFrame]  # name -> frame with a `shopper` column
    heat: np.ndarray  # (len(shoppers), 7, 24) trip counts
    highlights: dict[Hashable, list[Highlight]]

    def bounds(self) -> dict[str, dict[Hashable, tuple[int, int]]]:
        return {name: _bounds(frame["shopper"]) for name, frame in self.tables.items()}


TABLES = (
    "monthly",
    "departments",
    "categories",
    "top_by_spend",
    "top_by_count",
    "channels",
    "basket_trend",
)


# -- the summary -----------------------------------------------------------------------


def summarise(
    lines: pd.DataFrame,
    *,
    as_of: date,
    window: Window,
    previous: Window | None = None,
    tz: str | None = None,
    thresholds: Thresholds | None = None,
) -> HabitSummary:
    """The summary of one shopper's lines for `window` (see `summarise_many`)."""
    frame = lines.assign(shopper=0) if "shopper" not in lines.columns else lines
    shoppers = list(pd.unique(frame["shopper"])) or [0]
    result = summarise_many(
        frame,
        as_of=as_of,
        window=window,
        previous=previous,
        tz=tz,
        thresholds=thresholds,
        shoppers=shoppers[:1],
    )
    return result[shoppers[0]]


def summarise_many(
    lines: pd.DataFrame,
    *,
    as_of: date,
    window: Window,
    previous: Window | None = None,
    tz: str | None = None,
    thresholds: Thresholds | None = None,
    shoppers: list[Hashable] | None = None,
) -> dict[Hashable, HabitSummary]:
    """Summaries for every shopper in `lines` (column `shopper`) over `window`."""
    frames = compute_frames(
        lines,
        as_of=as_of,
        window=window,
        previous=previous,
        tz=tz,
        thresholds=thresholds,
        shoppers=shoppers,
    )
    return split_frames(frames)


def compute_frames(
    lines: pd.DataFrame,
    *,
    as_of: date,
    window: Window,
    previous: Window | None = None,
    tz: str | None = None,
    thresholds: Thresholds | None = None,
    shoppers: list[Hashable] | None = None,
) -> HabitFrames:
    """The aggregates of every shopper in `lines` over `window`, in a few group-bys.

    Lines after `as_of` are ignored (a window never sees the future). `previous`
    defaults to the window of equal length just before; highlights compare with it.
    `shoppers` lists who gets a summary (default: everyone in `lines`), so a shopper
    with no lines still gets an "empty" one. `lines` may already be `prepare_lines`d.
    """
    thresholds = thresholds or Thresholds()
    previous = previous or window.previous()
    window = Window(window.start, min(window.end, as_of))
    prepared = {"shopper", "day", "weekday", "hour"} <= set(lines.columns)
    frame = lines if prepared and tz is None else prepare_lines(lines, tz)
    frame = frame[frame["day"] <= pd.Timestamp(as_of)]
    if shoppers is None:
        shoppers = sorted(pd.unique(frame["shopper"]).tolist())

    current = _in_window(frame, window)
    previous_lines = _in_window(frame, previous)
    trips = _trips(current)
    trend_unit = "month" if window.days > 120 else "week"
    top_spend, top_count = _top_products(current)
    tables = {
        "monthly": _monthly(current),
        "departments": _spend_share(
            current, ["department_id", "department_name"], sort_by="spend", with_trips=False
        ),
        "categories": _spend_share(
            current,
            ["category_id", "category_name", "department_id", "department_name"],
            sort_by="spend",
            with_trips=True,
        ),
        "top_by_spend": top_spend,
        "top_by_count": top_count,
        "channels": _channels(trips),
        "basket_trend": _basket_trend(trips, trend_unit),
    }
    tables["categories"] = _fold_tail(tables["categories"], MAX_CATEGORIES)
    # Every table sorted by shopper (stable, keeping each shopper's own order).
    tables = {
        name: table.sort_values("shopper", kind="stable").reset_index(drop=True)
        for name, table in tables.items()
    }
    return HabitFrames(
        shoppers=list(shoppers),
        window=window,
        previous=previous,
        trend_unit=trend_unit,
        thresholds=thresholds,
        totals=_totals(trips, frame, previous_lines).reindex(shoppers),
        rhythm=_rhythm(trips, window, frame).reindex(shoppers),
        tables=tables,
        heat=_heat(trips, shoppers),
        highlights=find_highlights(frame, current, previous_lines, window, previous, thresholds),
    )


def split_frames(frames: HabitFrames) -> dict[Hashable, HabitSummary]:
    """One `HabitSummary` per shopper, sliced out of the shared frames."""
    bounds = frames.bounds()
    totals = frames.totals.to_dict("index")
    rhythm = frames.rhythm.to_dict("index")
    out: dict[Hashable, HabitSummary] = {}
    for position, shopper in enumerate(frames.shoppers):
        parts = {}
        for name, table in frames.tables.items():
            start, end = bounds[name].get(shopper, (0, 0))
            parts[name] = table.iloc[start:end].drop(columns="shopper").reset_index(drop=True)
        t = _clean_totals(totals.get(shopper))
        r = _clean_rhythm(rhythm.get(shopper))
        highlights = frames.highlights.get(shopper, [])
        out[shopper] = HabitSummary(
            shopper=shopper,
            window=frames.window,
            previous=frames.previous,
            state=_state(int(t["trips"]), frames.thresholds),
            totals=t,
            rhythm=r,
            monthly=parts["monthly"],
            departments=parts["departments"],
            categories=parts["categories"],
            top_by_spend=parts["top_by_spend"],
            top_by_count=parts["top_by_count"],
            heatmap=pd.DataFrame(
                frames.heat[position], index=pd.RangeIndex(7, name="weekday"), columns=range(24)
            ),
            channels=parts["channels"],
            basket_trend=parts["basket_trend"],
            trend_unit=frames.trend_unit,
            highlights=highlights,
            waiting_for=_waiting_for(t, r, frames.thresholds),
        )
    return out


def _state(trips: int, thresholds: Thresholds) -> str:
    if trips == 0:
        return EMPTY
    if trips < thresholds.min_trips:
        return THIN
    return OK


_TOTAL_COUNTS = ("trips", "lines", "history_trips", "previous_trips")
_TOTAL_FIELDS = (
    "spend",
    "trips",
    "lines",
    "items",
    "discount",
    "coupon_discount",
    "saved",
    "saved_share",
    "history_trips",
    "previous_trips",
)
_RHYTHM_FIELDS = (
    "trips_per_week",
    "median_gap_days",
    "basket_value",
    "basket_lines",
    "basket_items",
    "active_days",
)


def _finite(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clean_totals(row: dict[str, Any] | None) -> dict[str, float]:
    """A shopper's totals with 0 for missing values (a shopper without trips has none)."""
    row = row or {}
    out: dict[str, float] = {}
    for name in _TOTAL_FIELDS:
        value = _finite(row.get(name)) or 0.0
        out[name] = int(value) if name in _TOTAL_COUNTS else value
    return out


def _clean_rhythm(row: dict[str, Any] | None) -> dict[str, float | None]:
    """A shopper's rhythm with None where it cannot be said yet (never NaN)."""
    row = row or {}
    out: dict[str, float | None] = {name: _finite(row.get(name)) for name in _RHYTHM_FIELDS}
    out["trips_per_week"] = out["trips_per_week"] or 0.0
    out["active_days"] = int(out["active_days"] or 0)
    return out


def _totals(trips: pd.DataFrame, frame: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Per shopper: spend, trips, lines, items and savings in the window."""
    if trips.empty:
        return pd.DataFrame(columns=list(_TOTAL_FIELDS))
    per = trips.groupby("shopper").agg(
        spend=("value", "sum"),
        trips=("order_id", "size"),
        lines=("lines", "sum"),
        items=("items", "sum"),
        discount=("discount", "sum"),
        coupon_discount=("coupon_discount", "sum"),
    )
    per["saved"] = per["discount"] + per["coupon_discount"]
    # Saved as a share of what the basket would have cost without the savings.
    per["saved_share"] = _share(per["saved"], per["spend"] + per["saved"])
    per["history_trips"] = frame.groupby("shopper")["order_id"].nunique().reindex(per.index)
    # Trips in the window compared with: too few and "what changed" has nothing to say.
    previous_trips = previous.groupby("shopper")["order_id"].nunique()
    per["previous_trips"] = previous_trips.reindex(per.index).fillna(0)
    return per[list(_TOTAL_FIELDS)]


def _rhythm(trips: pd.DataFrame, window: Window, frame: pd.DataFrame) -> pd.DataFrame:
    """Trips per week, the median gap between trips in days, and the average basket.

    Trips per week counts from the later of the window's start and the shopper's first
    trip ever, so a shopper who joined last week is not diluted over a year (and over
    at least a week, so two trips on one day are not "14 a week").
    """
    if trips.empty:
        return pd.DataFrame(columns=list(_RHYTHM_FIELDS))
    ordered = trips.sort_values(["shopper", "placed_at"])
    gap = ordered.groupby("shopper")["placed_at"].diff().dt.total_seconds().div(86400.0)
    per = (
        ordered.assign(gap=gap)
        .groupby("shopper")
        .agg(
            trips=("order_id", "size"),
            basket_value=("value", "mean"),
            basket_lines=("lines", "mean"),
            basket_items=("items", "mean"),
            active_days=("day", "nunique"),
            median_gap_days=("gap", "median"),
        )
    )
    first_day = frame.groupby("shopper")["day"].min().reindex(per.index)
    effective_start = first_day.clip(lower=pd.Timestamp(window.start))
    days = (pd.Timestamp(window.end) - effective_start).dt.days + 1
    per["trips_per_week"] = per["trips"] / (days.clip(lower=7) / 7.0)
    return per[list(_RHYTHM_FIELDS)]


def _heat(trips: pd.DataFrame, shoppers: list[Hashable]) -> np.ndarray:
    """Trip counts per shopper, weekday (Mon=0) and hour, as one (n, 7, 24) array."""
    heat = np.zeros((len(shoppers), 7, 24), dtype=np.int64)
    if trips.empty:
        return heat
    position = pd.Series(np.arange(len(shoppers)), index=pd.Index(shoppers))
    rows = position.reindex(trips["shopper"].to_numpy()).to_numpy()
    known = ~np.isnan(rows.astype(float))
    np.add.at(
        heat,
        (
            rows[known].astype(np.int64),
            trips["weekday"].to_numpy(np.int64)[known],
            trips["hour"].to_numpy(np.int64)[known],
        ),
        1,
    )
    return heat


def _monthly(current: pd.DataFrame) -> pd.DataFrame:
    """Spend per calendar month and department; small departments are folded into "other".

    The departments that get their own series are each shopper's largest over the
    window, so a month's bars stack the same series in the same order.
    """
    columns = ["shopper", "month", "department_id", "department_name", "spend", "share"]
    if current.empty:
        return pd.DataFrame(columns=columns)
    month = current["day"].dt.to_period("M").astype(str).rename("month")
    # Aggregate first, fold later: the folding then works on a few rows per shopper.
    spend = (
        current.groupby(["shopper", month, "department_id", "department_name"])["amount_paid"]
        .sum()
        .rename("spend")
        .reset_index()
    )
    per_dept = spend.groupby(["shopper", "department_id"])["spend"].sum().rename("order_spend")
    rank = per_dept.groupby(level="shopper").rank(method="first", ascending=False)
    spend = spend.join(per_dept, on=["shopper", "department_id"])
    spend = spend.join(rank.rename("rank"), on=["shopper", "department_id"])
    folded = spend["rank"] > MAX_DEPARTMENT_SERIES
    spend.loc[folded, "department_id"] = OTHER_ID
    spend.loc[folded, "department_name"] = ""
    spend.loc[folded, "order_spend"] = -1.0
    out = (
        spend.groupby(["shopper", "month", "department_id", "department_name"])
        .agg(spend=("spend", "sum"), order_spend=("order_spend", "max"))
        .reset_index()
    )
    month_total = out.groupby(["shopper", "month"])["spend"].transform("sum")
    out["share"] = _share(out["spend"], month_total)
    out = out.sort_values(["shopper", "month", "order_spend"], ascending=[True, True, False])
    return out[columns].reset_index(drop=True)


def _spend_share(
    current: pd.DataFrame, keys: list[str], *, sort_by: str, with_trips: bool
) -> pd.DataFrame:
    columns = ["shopper", *keys, "spend", "share"] + (["trips"] if with_trips else [])
    if current.empty:
        return pd.DataFrame(columns=columns)
    grouped = current.groupby(["shopper", *keys])
    out = grouped["amount_paid"].sum().rename("spend").to_frame()
    if with_trips:
        out["trips"] = grouped["order_id"].nunique()
    out = out.reset_index()
    out["share"] = _share(out["spend"], out.groupby("shopper")["spend"].transform("sum"))
    out = out.sort_values(["shopper", sort_by, keys[0]], ascending=[True, False, True])
    return out[columns].reset_index(drop=True)


def _fold_tail(categories: pd.DataFrame, keep: int) -> pd.DataFrame:
    """Each shopper's first `keep` rows, then one row (id FOLDED_ID) summing the rest.

    A year can touch 150 categories; the page and the stored JSON need the big ones and
    an honest total for the rest, not a long tail of cents.
    """
    if categories.empty:
        return categories
    rank = categories.groupby("shopper").cumcount()
    tail = categories[rank >= keep]
    if tail.empty:
        return categories
    folded = tail.groupby("shopper", as_index=False).agg(
        spend=("spend", "sum"), share=("share", "sum")
    )
    folded = folded.assign(
        category_id=FOLDED_ID,
        category_name="",
        department_id=FOLDED_ID,
        department_name="",
        trips=0,
    )
    out = pd.concat([categories[rank < keep], folded[categories.columns]], ignore_index=True)
    return out.sort_values("shopper", kind="stable").reset_index(drop=True)


def _top_products(current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = ["shopper", "product_id", "product_name", "category_id", "spend", "trips", "quantity"]
    if current.empty:
        empty = pd.DataFrame(columns=columns)
        return empty, empty.copy()
    grouped = current.groupby(["shopper", "product_id"])
    per = grouped.agg(
        product_name=("product_name", "first"),
        category_id=("category_id", "first"),
        spend=("amount_paid", "sum"),
        trips=("order_id", "nunique"),
        quantity=("quantity", "sum"),
    ).reset_index()
    by_spend = (
        per.sort_values(["shopper", "spend", "trips", "product_id"], ascending=[1, 0, 0, 1])
        .groupby("shopper", sort=False)
        .head(TOP_N)
    )
    by_count = (
        per.sort_values(["shopper", "trips", "spend", "product_id"], ascending=[1, 0, 0, 1])
        .groupby("shopper", sort=False)
        .head(TOP_N)
    )
    return by_spend[columns].reset_index(drop=True), by_count[columns].reset_index(drop=True)


def _channels(trips: pd.DataFrame) -> pd.DataFrame:
    columns = ["shopper", "channel", "trips", "spend", "share"]
    if trips.empty:
        return pd.DataFrame(columns=columns)
    out = (
        trips.groupby(["shopper", "channel"])
        .agg(trips=("order_id", "size"), spend=("value", "sum"))
        .reset_index()
    )
    out["share"] = _share(
        out["trips"].astype(float), out.groupby("shopper")["trips"].transform("sum")
    )
    out = out.sort_values(["shopper", "trips", "channel"], ascending=[True, False, True])
    return out[columns].reset_index(drop=True)


def _basket_trend(trips: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The average basket per week (Monday-based) or calendar month."""
    columns = ["shopper", "bucket", "trips", "avg_value", "avg_items"]
    if trips.empty:
        return pd.DataFrame(columns=columns)
    day = pd.to_datetime(trips["day"])
    if unit == "month":
        bucket = day.dt.to_period("M").dt.start_time
    else:
        bucket = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    out = (
        trips.assign(bucket=bucket.dt.date)
        .groupby(["shopper", "bucket"])
        .agg(trips=("order_id", "size"), avg_value=("value", "mean"), avg_items=("items", "mean"))
        .reset_index()
    )
    return out[columns]


def _waiting_for(
    totals: dict[str, float], rhythm: dict[str, float | None], thresholds: Thresholds
) -> list[str]:
    """Sections that need more shopping before they say anything, by name."""
    waiting = []
    if totals["trips"] == 0:
        waiting.append("spend")
    if rhythm["median_gap_days"] is None:
        waiting.append("gap")
    if totals["trips"] < thresholds.min_trips:
        waiting.append("rhythm")
    if totals["trips"] < thresholds.min_trips or totals["previous_trips"] < thresholds.min_trips:
        waiting.append("highlights")
    if totals["saved"] == 0:
        waiting.append("savings")
    return waiting


# -- what changed -----------------------------------------------------------------------


def find_highlights(
    frame: pd.DataFrame,
    current: pd.DataFrame,
    previous_lines: pd.DataFrame,
    window: Window,
    previous: Window,
    thresholds: Thresholds,
) -> dict[Hashable, list[Highlight]]:
    """Meaningful changes between `window` and `previous`, strongest first, per shopper.

    A change is shown only when all of these hold:

    * enough data: at least `min_trips` trips in each window;
    * a real difference: the relative change is at least `min_relative_change` and the
      absolute change at least `min_absolute_change` currency units;
    * not noise: a Welch z-test on the category's spend *per trip* (every trip of each
      window counts, zero on trips without the category) gives |z| >= `min_z` in the
      same direction. Per trip, because a trip is the unit in which a shopper decides
      what to buy; a shopper who merely shops more often (same baskets) shows no change
      per trip and gets no card. When neither window varies at all (30 kr every trip
      against 15 kr every trip), the difference is certain and passes. The normal
      approximation is rough for a handful of trips: the trip floor, and the category
      bought on at least `min_purchase_trips` trips in the larger window, keep those out.

    Weekday shifts use a two-proportion z-test on the share of trips made on the new
    favourite weekday; new favourites need `favourite_min_trips` trips in the window and
    at most `favourite_max_before` ever before it, for a shopper with some history.
    """
    cur_trips = current.groupby("shopper")["order_id"].nunique()
    prev_trips = previous_lines.groupby("shopper")["order_id"].nunique()
    both = pd.concat([cur_trips.rename("cur"), prev_trips.rename("prev")], axis=1).fillna(0)
    eligible = both[(both["cur"] >= thresholds.min_trips) & (both["prev"] >= thresholds.min_trips)]
    out: dict[Hashable, list[Highlight]] = {}
    if eligible.empty:
        return out
    shoppers = eligible.index
    cur = current[current["shopper"].isin(shoppers)]
    prev = previous_lines[previous_lines["shopper"].isin(shoppers)]
    found: list[Highlight] = []
    found += _category_changes(cur, prev, window, previous, thresholds)
    found += _weekday_shift(cur, prev, window, previous, thresholds)
    before = frame[(frame["day"] < pd.Timestamp(window.start)) & frame["shopper"].isin(shoppers)]
    found += _new_favourites(cur, before, window, thresholds)
    favourites: dict[Hashable, int] = {}
    for shopper, highlight in sorted(found, key=lambda pair: (-pair[1].score, pair[1].key)):
        bucket = out.setdefault(shopper, [])
        if len(bucket) >= thresholds.max_highlights:
            continue
        if highlight.kind == "new_favourite":
            # A few favourites at most, so they never crowd out the spending changes.
            favourites[shopper] = favourites.get(shopper, 0) + 1
            if favourites[shopper] > thresholds.max_favourites:
                continue
        bucket.append(highlight)
    return out


def _trip_stats(lines: pd.DataFrame) -> pd.DataFrame:
    """Per shopper and category: the sum and sum of squares of spend per trip, and trips."""
    per_trip = (
        lines.groupby(["shopper", "category_id", "order_id"])["amount_paid"].sum().to_frame("total")
    )
    per_trip["sumsq"] = per_trip["total"] ** 2
    per_trip["trips"] = 1
    return per_trip.groupby(level=["shopper", "category_id"]).sum()


def _welch_z(
    total_a: pd.Series,
    sumsq_a: pd.Series,
    n_a: pd.Series,
    total_b: pd.Series,
    sumsq_b: pd.Series,
    n_b: pd.Series,
) -> pd.Series:
    """Welch's z for the difference of two means, from sums and sums of squares.

    Samples without variance and with different means give +-inf (a certain difference).
    """
    mean_a, mean_b = total_a / n_a, total_b / n_b
    var_a = (sumsq_a - n_a * mean_a**2).clip(lower=0) / (n_a - 1).clip(lower=1)
    var_b = (sumsq_b - n_b * mean_b**2).clip(lower=0) / (n_b - 1).clip(lower=1)
    se = np.sqrt(var_a / n_a + var_b / n_b)
    diff = mean_a - mean_b
    # Float noise in sumsq - n * mean^2 can leave a tiny positive variance; treat as none.
    se = se.where(se > 1e-9 * (mean_a.abs() + mean_b.abs() + 1.0), 0.0)
    z = diff / se.where(se > 0)
    certain = np.sign(diff) * np.inf
    return z.where(se > 0, certain.where(diff != 0, 0.0))


def _category_changes(
    cur: pd.DataFrame,
    prev: pd.DataFrame,
    window: Window,
    previous: Window,
    thresholds: Thresholds,
) -> list[tuple[Hashable, Highlight]]:
    if cur.empty and prev.empty:
        return []
    names = pd.concat([cur, prev])[["category_id", "category_name"]].drop_duplicates("category_id")
    stats = _trip_stats(cur).join(_trip_stats(prev), how="outer", suffixes=("_cur", "_prev"))
    stats = stats.fillna(0.0)
    shopper = stats.index.get_level_values("shopper")
    n_cur = cur.groupby("shopper")["order_id"].nunique().reindex(shopper).to_numpy(dtype=float)
    n_prev = prev.groupby("shopper")["order_id"].nunique().reindex(shopper).to_numpy(dtype=float)
    change = stats["total_cur"] - stats["total_prev"]
    relative = _share(change, stats["total_prev"])
    z = _welch_z(
        stats["total_cur"],
        stats["sumsq_cur"],
        pd.Series(n_cur, index=stats.index),
        stats["total_prev"],
        stats["sumsq_prev"],
        pd.Series(n_prev, index=stats.index),
    )
    stats = stats.assign(change=change, relative=relative, z=z)
    keep = stats[
        (stats["total_prev"] > 0)
        & (np.maximum(stats["trips_cur"], stats["trips_prev"]) >= thresholds.min_purchase_trips)
        & (stats["relative"].abs() >= thresholds.min_relative_change)
        & (stats["change"].abs() >= thresholds.min_absolute_change)
        & (stats["z"].abs() >= thresholds.min_z)
        & (np.sign(stats["z"]) == np.sign(stats["change"]))
    ].reset_index()
    keep = keep.merge(names, on="category_id", how="left")
    found = []
    for row in keep.itertuples(index=False):
        up = row.change > 0
        kind = "category_up" if up else "category_down"
        template = (
            "You spent {percent}% more on {category} ({now}) than in the period before ({before})."
            if up
            else "You spent {percent}% less on {category} ({now}) than in the period before "
            "({before})."
        )
        found.append(
            (
                row.shopper,
                Highlight(
                    key=f"{kind}:{row.category_id}:{window.end:%Y-%m}",
                    kind=kind,
                    params={
                        "category": row.category_name,
                        "category_id": int(row.category_id),
                        "percent": round(abs(row.relative) * 100),
                        "now": round(float(row.total_cur), 2),
                        "before": round(float(row.total_prev), 2),
                        "z": _num(row.z),
                        "window_start": window.start.isoformat(),
                        "window_end": window.end.isoformat(),
                        "previous_start": previous.start.isoformat(),
                        "previous_end": previous.end.isoformat(),
                    },
                    # A certain difference ranks like a very strong one, not above all.
                    score=min(abs(float(row.z)), 10.0),
                    template=template,
                ),
            )
        )
    return found


def _weekday_shift(
    cur: pd.DataFrame,
    prev: pd.DataFrame,
    window: Window,
    previous: Window,
    thresholds: Thresholds,
) -> list[tuple[Hashable, Highlight]]:
    """The favourite weekday moved: a two-proportion z-test on the new day's share of trips."""
    cur_trips = _trips(cur)
    prev_trips = _trips(prev)
    if cur_trips.empty or prev_trips.empty:
        return []
    cur_counts = cur_trips.groupby(["shopper", "weekday"]).size().unstack(fill_value=0)
    prev_counts = prev_trips.groupby(["shopper", "weekday"]).size().unstack(fill_value=0)
    cur_counts = cur_counts.reindex(columns=range(7), fill_value=0)
    prev_counts = prev_counts.reindex(index=cur_counts.index, columns=range(7), fill_value=0)
    n_cur = cur_counts.sum(axis=1)
    n_prev = prev_counts.sum(axis=1)
    top_cur = cur_counts.idxmax(axis=1)
    top_prev = prev_counts.idxmax(axis=1)
    found = []
    for shopper in cur_counts.index:
        a, b = int(n_cur[shopper]), int(n_prev[shopper])
        if a < thresholds.weekday_min_trips or b < thresholds.weekday_min_trips:
            continue
        new_day, old_day = int(top_cur[shopper]), int(top_prev[shopper])
        if new_day == old_day:
            continue
        share_now = cur_counts.at[shopper, new_day] / a
        share_before = prev_counts.at[shopper, new_day] / b
        if share_now - share_before < thresholds.weekday_min_share_change:
            continue
        pooled = (cur_counts.at[shopper, new_day] + prev_counts.at[shopper, new_day]) / (a + b)
        se = math.sqrt(pooled * (1 - pooled) * (1 / a + 1 / b)) if 0 < pooled < 1 else 0.0
        z = (share_now - share_before) / se if se else 0.0
        if abs(z) < thresholds.min_z:
            continue
        found.append(
            (
                shopper,
                Highlight(
                    key=f"weekday_shift:{new_day}:{old_day}:{window.end:%Y-%m}",
                    kind="weekday_shift",
                    params={
                        "new_weekday": new_day,
                        "old_weekday": old_day,
                        "share_now": round(float(share_now) * 100),
                        "share_before": round(float(share_before) * 100),
                        "old_share_before": round(
                            float(prev_counts.at[shopper, old_day] / b) * 100
                        ),
                        "trips_now": a,
                        "trips_before": b,
                        "z": round(float(z), 2),
                        "window_start": window.start.isoformat(),
                        "window_end": window.end.isoformat(),
                        "previous_start": previous.start.isoformat(),
                        "previous_end": previous.end.isoformat(),
                    },
                    score=abs(float(z)),
                    template=(
                        "You now shop mostly on weekday {new_weekday} ({share_now}% of trips, "
                        "{share_before}% before) instead of weekday {old_weekday}."
                    ),
                ),
            )
        )
    return found


def _new_favourites(
    cur: pd.DataFrame, before: pd.DataFrame, window: Window, thresholds: Thresholds
) -> list[tuple[Hashable, Highlight]]:
    if cur.empty:
        return []
    per = cur.groupby(["shopper", "product_id"]).agg(
        product_name=("product_name", "first"),
        trips=("order_id", "nunique"),
        first=("day", "min"),
        last=("day", "max"),
    )
    per = per[per["trips"] >= thresholds.favourite_min_trips]
    if per.empty:
        return []
    earlier = before.groupby(["shopper", "product_id"])["order_id"].nunique()
    per["before"] = earlier.reindex(per.index).fillna(0).astype(int)
    per = per[per["before"] <= thresholds.favourite_max_before].reset_index()
    found = []
    for row in per.itertuples(index=False):
        weeks = max(1, math.ceil(((row.last - row.first).days + 1) / 7))
        found.append(
            (
                row.shopper,
                Highlight(
                    key=f"new_favourite:{row.product_id}",
                    kind="new_favourite",
                    params={
                        "product": row.product_name,
                        "product_id": int(row.product_id),
                        "times": int(row.trips),
                        "weeks": weeks,
                        "before": int(row.before),
                        "window_start": window.start.isoformat(),
                        "window_end": window.end.isoformat(),
                    },
                    # Scaled into the z range of the other kinds: the minimum ranks as z = 2.
                    score=2.0
                    + (row.trips - thresholds.favourite_min_trips) / thresholds.favourite_min_trips,
                    template="A new favourite: {product}, {times} times in {weeks} weeks.",
                ),
            )
        )
    return found


# -- serialisation ---------------------------------------------------------------------

# How each table becomes JSON records: output name -> (column, kind).
_SPECS: dict[str, dict[str, tuple[str, str]]] = {
    "monthly": {
        "month": ("month", "str"),
        "department_id": ("department_id", "int"),
        "department": ("department_name", "str"),
        "spend": ("spend", "money"),
        "share": ("share", "share"),
    },
    "departments": {
        "department_id": ("department_id", "int"),
        "department": ("department_name", "str"),
        "spend": ("spend", "money"),
        "share": ("share", "share"),
    },
    "categories": {
        "category_id": ("category_id", "int"),
        "category": ("category_name", "str"),
        "department_id": ("department_id", "int"),
        "department": ("department_name", "str"),
        "spend": ("spend", "money"),
        "share": ("share", "share"),
        "trips": ("trips", "int"),
    },
    "top_by_spend": {
        "product_id": ("product_id", "int"),
        "product": ("product_name", "str"),
        "category_id": ("category_id", "int"),
        "spend": ("spend", "money"),
        "trips": ("trips", "int"),
        "quantity": ("quantity", "num"),
    },
    "channels": {
        "channel": ("channel", "str"),
        "trips": ("trips", "int"),
        "spend": ("spend", "money"),
        "share": ("share", "share"),
    },
    "basket_trend": {
        "start": ("bucket", "date"),
        "trips": ("trips", "int"),
        "avg_value": ("avg_value", "money"),
        "avg_items": ("avg_items", "num"),
    },
}
_SPECS["top_by_count"] = _SPECS["top_by_spend"]


def _column(values: pd.Series, kind: str) -> list[Any]:
    if kind == "money":
        return [f"{x:.2f}" for x in np.nan_to_num(values.to_numpy(dtype=float))]
    if kind == "int":
        return values.to_numpy(dtype=np.int64).tolist()
    if kind == "share":
        return np.round(np.nan_to_num(values.to_numpy(dtype=float)), 4).tolist()
    if kind == "num":
        return np.round(np.nan_to_num(values.to_numpy(dtype=float)), 2).tolist()
    if kind == "date":
        return [pd.Timestamp(x).date().isoformat() for x in values]
    return [str(x) for x in values]


def _records(frame: pd.DataFrame, spec: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """The frame as JSON-safe dicts, formatting whole columns at once."""
    if frame.empty:
        return []
    columns = {name: _column(frame[column], kind) for name, (column, kind) in spec.items()}
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _money(value: float | None) -> str:
    """A currency amount as an exact 2-decimal string (read back with Decimal)."""
    number = _finite(value)
    return f"{(number or 0.0):.2f}"


def _num(value: float | None, digits: int = 2) -> float | None:
    number = _finite(value)
    return None if number is None else round(number, digits)


def _head(
    window: Window,
    previous: Window,
    state: str,
    waiting_for: list[str],
    totals: dict[str, float],
    rhythm: dict[str, float | None],
    trend_unit: str,
) -> dict[str, Any]:
    return {
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "previous": {"start": previous.start.isoformat(), "end": previous.end.isoformat()},
        "state": state,
        "waiting_for": list(waiting_for),
        "totals": {
            "spend": _money(totals["spend"]),
            "trips": int(totals["trips"]),
            "lines": int(totals["lines"]),
            "items": _num(totals["items"]),
            "discount": _money(totals["discount"]),
            "coupon_discount": _money(totals["coupon_discount"]),
            "saved": _money(totals["saved"]),
            "saved_share": _num(totals["saved_share"], 4),
            "history_trips": int(totals["history_trips"]),
            "previous_trips": int(totals["previous_trips"]),
        },
        "rhythm": {
            "trips_per_week": _num(rhythm["trips_per_week"]),
            "median_gap_days": _num(rhythm["median_gap_days"], 1),
            "basket_value": None
            if rhythm["basket_value"] is None
            else _money(rhythm["basket_value"]),
            "basket_lines": _num(rhythm["basket_lines"], 1),
            "basket_items": _num(rhythm["basket_items"], 1),
        },
        "trend_unit": trend_unit,
    }


def to_payload(summary: HabitSummary) -> dict[str, Any]:
    """A JSON-safe dict of one summary (money as 2-decimal strings, never NaN)."""
    payload = _head(
        summary.window,
        summary.previous,
        summary.state,
        summary.waiting_for,
        summary.totals,
        summary.rhythm,
        summary.trend_unit,
    )
    tables = {
        "monthly": summary.monthly,
        "departments": summary.departments,
        "categories": summary.categories,
        "top_by_spend": summary.top_by_spend,
        "top_by_count": summary.top_by_count,
        "channels": summary.channels,
        "basket_trend": summary.basket_trend,
    }
    for name, table in tables.items():
        payload[name] = _records(table, _SPECS[name])
    payload["heatmap"] = summary.heatmap.to_numpy(dtype=np.int64).tolist()
    return payload


def payloads_many(frames: HabitFrames) -> dict[Hashable, dict[str, Any]]:
    """`to_payload` for every shopper at once: each table is formatted in one pass."""
    records = {name: _records(table, _SPECS[name]) for name, table in frames.tables.items()}
    bounds = frames.bounds()
    totals = frames.totals.to_dict("index")
    rhythm = frames.rhythm.to_dict("index")
    heat = frames.heat.tolist()
    out: dict[Hashable, dict[str, Any]] = {}
    for position, shopper in enumerate(frames.shoppers):
        t = _clean_totals(totals.get(shopper))
        r = _clean_rhythm(rhythm.get(shopper))
        payload = _head(
            frames.window,
            frames.previous,
            _state(int(t["trips"]), frames.thresholds),
            _waiting_for(t, r, frames.thresholds),
            t,
            r,
            frames.trend_unit,
        )
        for name in TABLES:
            start, end = bounds[name].get(shopper, (0, 0))
            payload[name] = records[name][start:end]
        payload["heatmap"] = heat[position]
        out[shopper] = payload
    return out
