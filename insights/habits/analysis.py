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
from collections.abc import Hashable, Mapping, Sequence
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
    """The aggregates of every shopper in `lines` over one `window` (see `compute_periods`)."""
    return compute_periods(
        lines,
        as_of=as_of,
        windows={0: window},
        previous={0: previous} if previous is not None else None,
        tz=tz,
        thresholds=thresholds,
        shoppers=shoppers,
    )[0]


def compute_periods(
    lines: pd.DataFrame,
    *,
    as_of: date,
    windows: Mapping[Hashable, Window],
    previous: Mapping[Hashable, Window] | None = None,
    tz: str | None = None,
    thresholds: Thresholds | None = None,
    shoppers: Sequence[Hashable] | Mapping[Hashable, Sequence[Hashable]] | None = None,
) -> dict[Hashable, HabitFrames]:
    """The aggregates of every shopper in `lines` over every window, in ONE pass.

    `windows` maps a key (a period name) to its window; the result has one `HabitFrames`
    per key, the same as `compute_frames` for that window alone. Lines after `as_of` are
    ignored (a window never sees the future). `previous[key]` defaults to the window of
    equal length just before; highlights compare with it. `shoppers` lists who gets a
    summary (default: everyone in `lines`), for all windows or per key, so a shopper with
    no lines still gets an "empty" one. `lines` may already be `prepare_lines`d.

    How: the frame is encoded once (integer codes for shopper, trip, department,
    category, month and day), trips are summed once, and each window's lines are stacked
    under a *slot* = window × shopper, so every table is one group-by over all windows
    and is then sliced per window. Sums run over the same rows in the same order as a
    window alone, so the numbers are identical, not merely close. Ids and names travel
    together: a category name is taken from the first line of its id.
    """
    thresholds = thresholds or Thresholds()
    prepared = {"shopper", "day", "weekday", "hour"} <= set(lines.columns)
    frame = lines if prepared and tz is None else prepare_lines(lines, tz)
    frame = frame[frame["day"] <= pd.Timestamp(as_of)]
    keys = list(windows)
    if shoppers is None:
        everyone = sorted(pd.unique(frame["shopper"]).tolist())
        members = {key: list(everyone) for key in keys}
    elif isinstance(shoppers, Mapping):
        members = {key: list(shoppers.get(key, [])) for key in keys}
    else:
        members = {key: list(shoppers) for key in keys}
    spans = []
    for key in keys:
        window = windows[key]
        before = (previous or {}).get(key) or window.previous()
        spans.append(_Span(key, Window(window.start, min(window.end, as_of)), before))
    universe = sorted(set().union(*members.values())) if keys else []
    n = len(universe)
    code = pd.Index(universe).get_indexer(frame["shopper"]) if n else np.full(len(frame), -1)
    known = code >= 0
    frame = frame[known]
    enc = _encode(frame, code[known])
    # Which shopper (by code) each window covers; a window of everyone needs no mask.
    for span, key in zip(spans, keys, strict=True):
        wanted = members[key]
        span.member = None if len(wanted) == n else np.zeros(n, dtype=bool)
        if span.member is not None:
            span.member[pd.Index(universe).get_indexer(wanted)] = True
        span.unit = "month" if span.window.days > 120 else "week"
    trips = _all_trips(frame, enc)
    history = np.bincount(trips["s"].to_numpy(), minlength=n) if n else np.zeros(0, np.int64)
    first_day = _first_day(enc, n)
    stacked = _stack_lines(enc, spans, n)
    stacked_trips = _stack_trips(trips, spans, n)
    top_spend, top_count, per_product = _top_products(stacked, enc)
    categories = _spend_share(
        stacked,
        "cat",
        enc.categories,
        ["category_id", "category_name", "department_id", "department_name"],
        with_trips=True,
    )
    tables = {
        "monthly": _monthly(stacked, enc),
        "departments": _spend_share(
            stacked, "dept", enc.departments, ["department_id", "department_name"]
        ),
        "categories": _fold_tail(categories, MAX_CATEGORIES),
        "top_by_spend": top_spend,
        "top_by_count": top_count,
        "channels": _channels(stacked_trips),
        "basket_trend": _basket_trend(stacked_trips, spans, n),
    }
    totals = _totals(stacked_trips, trips, spans, n, history)
    rhythm = _rhythm(stacked_trips, spans, n, first_day)
    heat = _heat(stacked_trips, len(spans) * n)
    highlights = _highlights(enc, trips, spans, n, per_product, thresholds)
    out: dict[Hashable, HabitFrames] = {}
    shopper_of = np.asarray(universe, dtype=object if n == 0 else None)
    slots_of = {name: table["slot"].to_numpy(dtype=np.int64) for name, table in tables.items()}
    # Each table without `slot`, with `shopper` first: a period's rows are then a
    # positional slice, far cheaper than a drop and an insert per period, which rebuild
    # the column index (milliseconds each with pandas' string labels).
    tables = {
        name: _with_shopper(table, slots_of[name], n, shopper_of).iloc[:, 1:]
        for name, table in tables.items()
    }
    for k, span in enumerate(spans):
        wanted = members[span.key]
        positions = pd.Index(universe).get_indexer(wanted) if n else np.zeros(0, np.int64)
        low, high = k * n, (k + 1) * n
        part = {name: _slice(table, slots_of[name], low, high) for name, table in tables.items()}
        slots = pd.Index(np.arange(low, high))
        window_heat = np.zeros((len(wanted), 7, 24), dtype=np.int64)
        known_rows = positions >= 0
        window_heat[known_rows] = heat[low + positions[known_rows]]
        out[span.key] = HabitFrames(
            shoppers=wanted,
            window=span.window,
            previous=span.previous,
            trend_unit=span.unit,
            thresholds=thresholds,
            totals=_by_shopper(totals, slots, shopper_of, low).reindex(wanted),
            rhythm=_by_shopper(rhythm, slots, shopper_of, low).reindex(wanted),
            tables=part,
            heat=window_heat,
            highlights={universe[s]: found for s, found in highlights[k].items()},
        )
    return out


@dataclass
class _Span:
    """One window of a pass: its key, dates, the window it is compared with, and its shoppers."""

    key: Hashable
    window: Window
    previous: Window
    member: np.ndarray | None = None  # bool per shopper code; None = everyone
    unit: str = "week"

    @property
    def first(self) -> int:
        return _daynum(self.window.start)

    @property
    def last(self) -> int:
        return _daynum(self.window.end)


_EPOCH = date(1970, 1, 1)


def _daynum(day: date) -> int:
    return (day - _EPOCH).days


@dataclass
class _Encoded:
    """The lines as integer columns, and the lookups back to ids and names."""

    lines: pd.DataFrame  # s, trip, order_id, dayn, month, dept, cat, category_id, product_id, ...
    departments: pd.DataFrame  # by dept code: department_id, department_name
    categories: pd.DataFrame  # by cat code: category_id, category_name, department_id, ...
    product_names: np.ndarray  # by product name code
    category_names: dict[Hashable, str]  # category_id -> first name seen


def _codes(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """A code per row for the distinct values of `columns`, numbered in sorted order.

    Text columns are factorised alone first (sorted, so codes order like the text), and
    the combinations are then grouped as integers: hashing each string once, not once
    per combination of columns.
    """
    if frame.empty:
        return np.zeros(0, dtype=np.int64), pd.DataFrame(columns=columns)
    ints: dict[str, np.ndarray] = {}
    texts: dict[str, np.ndarray] = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            ints[column] = values.to_numpy()
        else:
            ints[column], uniques = pd.factorize(values.to_numpy(dtype=object), sort=True)
            texts[column] = np.asarray(uniques, dtype=object)
    grouped = pd.DataFrame(ints).groupby(columns, sort=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    lookup = grouped.size().index.to_frame(index=False)
    for column, uniques in texts.items():
        lookup[column] = _objects(uniques[lookup[column].to_numpy()], lookup.index)
    return codes, lookup


def _encode(frame: pd.DataFrame, code: np.ndarray) -> _Encoded:
    day = frame["day"].to_numpy().astype("datetime64[D]")
    dayn = day.astype(np.int64)
    month = day.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    dept, departments = _codes(frame, ["department_id", "department_name"])
    cat, categories = _codes(
        frame, ["category_id", "category_name", "department_id", "department_name"]
    )
    pname, product_names = pd.factorize(frame["product_name"].to_numpy(dtype=object))
    lines = pd.DataFrame(
        {
            "s": code.astype(np.int64),
            "order_id": frame["order_id"].to_numpy(),
            "dayn": dayn,
            "month": month,
            "dept": dept,
            "cat": cat,
            "category_id": frame["category_id"].to_numpy(),
            "product_id": frame["product_id"].to_numpy(),
            "pname": pname,
            "amount_paid": frame["amount_paid"].to_numpy(),
            "quantity": frame["quantity"].to_numpy(),
        }
    )
    # A trip is one order of one shopper (order ids need not be unique across shoppers).
    lines["trip"] = lines.groupby(["s", "order_id"], sort=False).ngroup().to_numpy()
    # The first line of a product (or category) on a trip counts that trip once, so
    # "bought on how many trips" is a sum instead of a distinct count per window.
    lines["trip_product"] = ~lines.duplicated(["trip", "product_id"])
    lines["trip_cat"] = ~lines.duplicated(["trip", "cat"])
    names = frame[["category_id", "category_name"]].drop_duplicates("category_id")
    return _Encoded(
        lines=lines,
        departments=departments,
        categories=categories,
        product_names=np.asarray(product_names, dtype=object),
        category_names=dict(zip(names["category_id"], names["category_name"], strict=True)),
    )


_TRIP_FIRST = ["shopper", "order_id", "placed_at", "day", "weekday", "hour", "channel"]
_TRIP_SUMS = {
    "amount_paid": "value",
    "quantity": "items",
    "discount": "discount",
    "coupon_discount": "coupon_discount",
}


def _all_trips(frame: pd.DataFrame, enc: _Encoded) -> pd.DataFrame:
    """One row per trip (order), in order of first appearance: when, where, how much.

    An order's lines share its time and channel: they are taken from its first line, and
    the amounts summed in one grouped pass.
    """
    trip = enc.lines["trip"].to_numpy()
    columns = [*_TRIP_FIRST, *_TRIP_SUMS.values(), "lines", "s", "dayn", "month"]
    if len(trip) == 0:
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in columns})
    _, first = np.unique(trip, return_index=True)
    trips = frame[_TRIP_FIRST].iloc[first].reset_index(drop=True)
    sums = frame[list(_TRIP_SUMS)].groupby(trip, sort=True).sum()
    for source, name in _TRIP_SUMS.items():
        trips[name] = sums[source].to_numpy()
    trips["lines"] = np.bincount(trip)
    for name in ("s", "dayn", "month"):
        trips[name] = enc.lines[name].to_numpy()[first]
    return trips[columns]


def _first_day(enc: _Encoded, n: int) -> np.ndarray:
    """Each shopper's first day with a line ever (as a day number; huge when none)."""
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, enc.lines["s"].to_numpy(), enc.lines["dayn"].to_numpy())
    return first


def _in_span(dayn: np.ndarray, s: np.ndarray, span: _Span) -> np.ndarray:
    mask = (dayn >= span.first) & (dayn <= span.last)
    return mask if span.member is None else mask & span.member[s]


def _stack(rows: pd.DataFrame, spans: list[_Span], n: int) -> pd.DataFrame:
    """Each window's rows one after another, with `slot` = window index × n + shopper code."""
    dayn = rows["dayn"].to_numpy()
    s = rows["s"].to_numpy()
    picks, slots = [], []
    for k, span in enumerate(spans):
        index = np.flatnonzero(_in_span(dayn, s, span))
        picks.append(index)
        slots.append(s[index] + k * n)
    index = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    stacked = rows.take(index).reset_index(drop=True)
    stacked.insert(0, "slot", np.concatenate(slots) if slots else index)
    return stacked


def _stack_lines(enc: _Encoded, spans: list[_Span], n: int) -> pd.DataFrame:
    return _stack(enc.lines, spans, n)


def _stack_trips(trips: pd.DataFrame, spans: list[_Span], n: int) -> pd.DataFrame:
    return _stack(trips, spans, n)


def _objects(values: np.ndarray, index: pd.Index) -> pd.Series:
    """Names as plain Python strings: pandas would infer its Arrow string type, whose
    element-by-element reading costs more than the whole aggregation when serialising."""
    return pd.Series(np.asarray(values, dtype=object), index=index, dtype=object)


def _share(values: pd.Series, totals: pd.Series) -> pd.Series:
    """values / totals, 0 where the total is 0 (never NaN or inf)."""
    out = values / totals.where(totals != 0)
    return out.fillna(0.0)


def _agg(grouped: Any, **spec: tuple[str, str]) -> pd.DataFrame:
    """`grouped.agg(name=(column, function), ...)` with one call per function.

    The same grouped reductions, without pandas' named-aggregation machinery, whose fixed
    cost (column relabelling, a MultiIndex of the results) outweighs a few thousand rows.
    """
    columns: dict[str, np.ndarray] = {}
    index = None
    by_function: dict[str, list[tuple[str, str]]] = {}
    for name, (column, function) in spec.items():
        by_function.setdefault(function, []).append((name, column))
    for function, pairs in by_function.items():
        if function == "size":
            result = grouped.size()
            index = result.index
            for name, _ in pairs:
                columns[name] = result.to_numpy()
            continue
        wanted = list(dict.fromkeys(column for _, column in pairs))
        result = getattr(grouped[wanted], function)()
        index = result.index
        for name, column in pairs:
            columns[name] = result[column].to_numpy()
    return pd.DataFrame({name: columns[name] for name in spec}, index=index)


def _slice(table: pd.DataFrame, slots: np.ndarray, low: int, high: int) -> pd.DataFrame:
    """The rows of slots [low, high) (`slots` is the table's sorted slot of each row)."""
    start, end = np.searchsorted(slots, [low, high])
    part = table.iloc[start:end]
    part.index = pd.RangeIndex(end - start)
    return part


def _with_shopper(
    table: pd.DataFrame, slots: np.ndarray, n: int, shopper_of: np.ndarray
) -> pd.DataFrame:
    """The table with a `shopper` column (the slot's shopper) right after `slot`."""
    table.insert(1, "shopper", shopper_of[slots % n] if n else shopper_of[slots])
    return table


def _by_shopper(
    table: pd.DataFrame, slots: pd.Index, shopper_of: np.ndarray, low: int
) -> pd.DataFrame:
    part = table[table.index.isin(slots)]
    part.index = pd.Index(shopper_of[part.index.to_numpy(dtype=np.int64) - low], name="shopper")
    return part


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


def _totals(
    stacked: pd.DataFrame, trips: pd.DataFrame, spans: list[_Span], n: int, history: np.ndarray
) -> pd.DataFrame:
    """Per slot: spend, trips, lines, items and savings in the window."""
    if stacked.empty:
        return pd.DataFrame(columns=list(_TOTAL_FIELDS))
    per = _agg(
        stacked.groupby("slot"),
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
    slot = per.index.to_numpy()
    per["history_trips"] = history[slot % n]
    # Trips in the window compared with: too few and "what changed" has nothing to say.
    previous = np.concatenate([_trip_counts(trips, span.previous, n) for span in spans])
    per["previous_trips"] = previous[slot].astype(float)
    return per[list(_TOTAL_FIELDS)]


def _trip_counts(trips: pd.DataFrame, window: Window, n: int) -> np.ndarray:
    """Trips per shopper code within `window`."""
    dayn = trips["dayn"].to_numpy()
    inside = (dayn >= _daynum(window.start)) & (dayn <= _daynum(window.end))
    return np.bincount(trips["s"].to_numpy()[inside], minlength=n)


def _rhythm(stacked: pd.DataFrame, spans: list[_Span], n: int, first: np.ndarray) -> pd.DataFrame:
    """Trips per week, the median gap between trips in days, and the average basket.

    Trips per week counts from the later of the window's start and the shopper's first
    trip ever, so a shopper who joined last week is not diluted over a year (and over
    at least a week, so two trips on one day are not "14 a week").
    """
    if stacked.empty:
        return pd.DataFrame(columns=list(_RHYTHM_FIELDS))
    ordered = stacked.sort_values(["slot", "placed_at"])
    gap = ordered.groupby("slot")["placed_at"].diff().dt.total_seconds().div(86400.0)
    per = (
        ordered.assign(gap=gap)
        .groupby("slot")
        .pipe(
            _agg,
            trips=("order_id", "size"),
            basket_value=("value", "mean"),
            basket_lines=("lines", "mean"),
            basket_items=("items", "mean"),
            active_days=("dayn", "nunique"),
            median_gap_days=("gap", "median"),
        )
    )
    slot = per.index.to_numpy()
    starts = np.array([span.first for span in spans], dtype=np.int64)[slot // n]
    ends = np.array([span.last for span in spans], dtype=np.int64)[slot // n]
    effective_start = np.maximum(first[slot % n], starts)
    days = ends - effective_start + 1
    per["trips_per_week"] = per["trips"] / (np.maximum(days, 7) / 7.0)
    return per[list(_RHYTHM_FIELDS)]


def _heat(stacked: pd.DataFrame, slots: int) -> np.ndarray:
    """Trip counts per slot, weekday (Mon=0) and hour, as one (slots, 7, 24) array."""
    heat = np.zeros(slots * 7 * 24, dtype=np.int64)
    if not stacked.empty:
        cell = (
            stacked["slot"].to_numpy(np.int64) * 168
            + stacked["weekday"].to_numpy(np.int64) * 24
            + stacked["hour"].to_numpy(np.int64)
        )
        heat += np.bincount(cell, minlength=slots * 168)
    return heat.reshape(slots, 7, 24)


def _monthly(stacked: pd.DataFrame, enc: _Encoded) -> pd.DataFrame:
    """Spend per calendar month and department; small departments are folded into "other".

    The departments that get their own series are each shopper's largest over the
    window, so a month's bars stack the same series in the same order.
    """
    columns = ["slot", "month", "department_id", "department_name", "spend", "share"]
    if stacked.empty:
        return pd.DataFrame(columns=columns)
    # Aggregate first, fold later: the folding then works on a few rows per shopper.
    # Every (slot, month, department) is one integer key, numbered in that sorted order,
    # and every sum is pandas' grouped sum over the same rows in the same order as a
    # group-by on the three columns would see them.
    lookup = enc.departments
    width = len(lookup) + 1  # department codes shifted by one: "none" (-1) becomes 0
    slot_all = stacked["slot"].to_numpy(np.int64)
    month_all = stacked["month"].to_numpy(np.int64)
    first_month = int(month_all.min())
    months_span = int(month_all.max()) - first_month + 1
    key = (slot_all * months_span + (month_all - first_month)) * width + (
        stacked["dept"].to_numpy(np.int64) + 1
    )
    by_key = stacked["amount_paid"].groupby(key, sort=True).sum()
    keys, spend = by_key.index.to_numpy(np.int64), by_key.to_numpy()
    dept = keys % width - 1
    slot_month = keys // width
    slot = slot_month // months_span
    # Each slot's departments over the window, ranked (ties: lower code first).
    pair = slot * width + dept + 1
    per_dept = pd.Series(spend).groupby(pair, sort=True).sum()
    pairs, order_spend_of = per_dept.index.to_numpy(np.int64), per_dept.to_numpy()
    pair_slot = pairs // width
    ranked = np.lexsort((pairs, -order_spend_of, pair_slot))
    starts = np.searchsorted(pair_slot[ranked], pair_slot[ranked], "left")
    rank_of = np.empty(len(pairs), dtype=np.int64)
    rank_of[ranked] = np.arange(len(pairs)) - starts + 1
    at = np.searchsorted(pairs, pair)
    order_spend = order_spend_of[at]
    # Folded departments join "no department" (OTHER_ID, no name), which sorts first.
    other = lookup.index[(lookup["department_id"] == OTHER_ID) & (lookup["department_name"] == "")]
    folded = rank_of[at] > MAX_DEPARTMENT_SERIES
    dept = np.where(folded, int(other[0]) if len(other) else -1, dept)
    order_spend = np.where(folded, -1.0, order_spend)
    merged_key = slot_month * width + dept + 1
    merged = pd.DataFrame({"spend": spend, "order_spend": order_spend}).groupby(
        merged_key, sort=True
    )
    sums, highest = merged["spend"].sum(), merged["order_spend"].max()
    out_keys = sums.index.to_numpy(np.int64)
    out_spend = sums.to_numpy()
    out_order = highest.to_numpy()
    out_slot_month = out_keys // width
    month_total = pd.Series(out_spend).groupby(out_slot_month, sort=True).sum()
    total = month_total.to_numpy()[np.searchsorted(month_total.index.to_numpy(), out_slot_month)]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = out_spend / np.where(total != 0, total, np.nan)
    share = np.where(np.isnan(share), 0.0, share)
    order = np.lexsort((-out_order, out_slot_month))
    out = pd.DataFrame(
        {
            "slot": (out_slot_month // months_span)[order],
            "month": (out_slot_month % months_span + first_month)[order],
            "dept": (out_keys % width - 1)[order],
            "spend": out_spend[order],
            "share": share[order],
        }
    )
    dept = out["dept"].to_numpy()
    named = dept >= 0
    ids = np.full(len(out), OTHER_ID, dtype=np.int64)
    ids[named] = lookup["department_id"].to_numpy()[dept[named]]
    names = np.full(len(out), "", dtype=object)
    names[named] = lookup["department_name"].to_numpy(dtype=object)[dept[named]]
    out["department_id"] = ids
    out["department_name"] = _objects(names, out.index)
    months = np.unique(out["month"].to_numpy())
    labels = pd.Series(
        np.datetime_as_string(months.astype("datetime64[M]"), unit="M").astype(object),
        index=months,
    )
    out["month"] = _objects(labels.reindex(out["month"].to_numpy()).to_numpy(), out.index)
    return out[columns].reset_index(drop=True)


def _spend_share(
    stacked: pd.DataFrame,
    code: str,
    lookup: pd.DataFrame,
    keys: list[str],
    *,
    with_trips: bool = False,
) -> pd.DataFrame:
    """Spend per slot and key (department or category), its share, and trips with it."""
    columns = ["slot", *keys, "spend", "share"] + (["trips"] if with_trips else [])
    if stacked.empty:
        return pd.DataFrame(columns=columns)
    # One integer key per (slot, code) pair: a single-key group-by, in the same order.
    width = int(len(lookup)) or 1
    pair = stacked["slot"].to_numpy(np.int64) * width + stacked[code].to_numpy(np.int64)
    spend_by = stacked["amount_paid"].groupby(pair, sort=True).sum()
    pairs = spend_by.index.to_numpy(np.int64)
    spend = spend_by.to_numpy()
    slot, values = pairs // width, pairs % width
    # The slot's total by pandas' grouped sum too, so shares match a transform("sum").
    slot_total = pd.Series(spend).groupby(slot, sort=True).sum()
    total = slot_total.to_numpy()[np.searchsorted(slot_total.index.to_numpy(), slot)]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = spend / np.where(total != 0, total, np.nan)
    share = np.where(np.isnan(share), 0.0, share)
    order = np.lexsort((lookup[keys[0]].to_numpy()[values], -spend, slot))
    index = pd.RangeIndex(len(order))
    data: dict[str, Any] = {"slot": slot[order]}
    for key in keys:
        data[key] = _objects(lookup[key].to_numpy()[values[order]], index)
    data["spend"] = spend[order]
    data["share"] = share[order]
    if with_trips:
        data["trips"] = _pair_sums(pair, pairs, stacked["trip_cat"].to_numpy())[order]
    return pd.DataFrame(data, index=index)[columns]


def _pair_sums(pair: np.ndarray, pairs: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """How many rows of each key in `pairs` (sorted) have the flag set."""
    position = np.searchsorted(pairs, pair[flags.astype(bool)])
    return np.bincount(position, minlength=len(pairs)).astype(np.int64)


def _fold_tail(categories: pd.DataFrame, keep: int) -> pd.DataFrame:
    """Each slot's first `keep` rows, then one row (id FOLDED_ID) summing the rest.

    A year can touch 150 categories; the page and the stored JSON need the big ones and
    an honest total for the rest, not a long tail of cents.
    """
    if categories.empty:
        return categories
    rank = categories.groupby("slot").cumcount()
    tail = categories[rank >= keep]
    if tail.empty:
        return categories
    folded = tail.groupby("slot", as_index=False).agg(
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
    return out.sort_values("slot", kind="stable").reset_index(drop=True)


def _top_products(
    stacked: pd.DataFrame, enc: _Encoded
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The top products by spend and by trips, and every product's numbers per slot."""
    columns = ["slot", "product_id", "product_name", "category_id", "spend", "trips", "quantity"]
    if stacked.empty:
        empty = pd.DataFrame(columns=columns)
        return empty, empty.copy(), pd.DataFrame(columns=[*columns, "first", "last"])
    per = (
        stacked.groupby(["slot", "product_id"])
        .pipe(
            _agg,
            pname=("pname", "first"),
            category_id=("category_id", "first"),
            spend=("amount_paid", "sum"),
            trips=("trip_product", "sum"),
            quantity=("quantity", "sum"),
            first=("dayn", "min"),
            last=("dayn", "max"),
        )
        .reset_index()
    )
    per["trips"] = per["trips"].astype(np.int64)
    per["product_name"] = _objects(enc.product_names[per["pname"].to_numpy()], per.index)
    ranked = per[columns]
    # Only rows that can make a slot's top N are sorted: those with fewer than N rows
    # strictly ahead on the first criterion (ties at the edge stay in, and the full sort
    # then decides), a few dozen per slot instead of every product bought in a year.
    by_slot = ranked.groupby("slot")
    spend_rank = by_slot["spend"].rank(method="min", ascending=False).to_numpy()
    trips_rank = by_slot["trips"].rank(method="min", ascending=False).to_numpy()
    by_spend = (
        ranked[spend_rank <= TOP_N]
        .sort_values(["slot", "spend", "trips", "product_id"], ascending=[1, 0, 0, 1])
        .groupby("slot", sort=False)
        .head(TOP_N)
    )
    by_count = (
        ranked[trips_rank <= TOP_N]
        .sort_values(["slot", "trips", "spend", "product_id"], ascending=[1, 0, 0, 1])
        .groupby("slot", sort=False)
        .head(TOP_N)
    )
    return by_spend.reset_index(drop=True), by_count.reset_index(drop=True), per


def _channels(stacked: pd.DataFrame) -> pd.DataFrame:
    columns = ["slot", "channel", "trips", "spend", "share"]
    if stacked.empty:
        return pd.DataFrame(columns=columns)
    out = (
        stacked.groupby(["slot", "channel"])
        .pipe(_agg, trips=("order_id", "size"), spend=("value", "sum"))
        .reset_index()
    )
    out["share"] = _share(out["trips"].astype(float), out.groupby("slot")["trips"].transform("sum"))
    out = out.sort_values(["slot", "trips", "channel"], ascending=[True, False, True])
    return out[columns].reset_index(drop=True)


def _basket_trend(stacked: pd.DataFrame, spans: list[_Span], n: int) -> pd.DataFrame:
    """The average basket per week (Monday-based) or calendar month, per each window's unit."""
    columns = ["slot", "bucket", "trips", "avg_value", "avg_items"]
    if stacked.empty:
        return pd.DataFrame(columns=columns)
    monthly = np.array([span.unit == "month" for span in spans])
    window_of = stacked["slot"].to_numpy() // n
    week = stacked["dayn"].to_numpy() - stacked["weekday"].to_numpy(np.int64)
    month = stacked["month"].to_numpy().astype("datetime64[M]").astype("datetime64[D]")
    bucket = np.where(monthly[window_of], month.astype(np.int64), week)
    out = (
        stacked.assign(bucket=bucket)
        .groupby(["slot", "bucket"])
        .pipe(
            _agg,
            trips=("order_id", "size"),
            avg_value=("value", "mean"),
            avg_items=("items", "mean"),
        )
        .reset_index()
    )
    days = np.unique(out["bucket"].to_numpy())
    as_dates = pd.Series([_EPOCH + timedelta(days=int(d)) for d in days], index=days, dtype=object)
    out["bucket"] = as_dates.reindex(out["bucket"].to_numpy()).to_numpy()
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


def _highlights(
    enc: _Encoded,
    trips: pd.DataFrame,
    spans: list[_Span],
    n: int,
    per_product: pd.DataFrame,
    thresholds: Thresholds,
) -> list[dict[int, list[Highlight]]]:
    """Meaningful changes between each window and the one before it, per shopper code.

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
    out: list[dict[int, list[Highlight]]] = []
    per_trip: _PerTrip | None = None
    for k, span in enumerate(spans):
        cur_n = _trip_counts(trips, span.window, n)
        prev_n = _trip_counts(trips, span.previous, n)
        eligible = (cur_n >= thresholds.min_trips) & (prev_n >= thresholds.min_trips)
        if span.member is not None:
            eligible &= span.member
        if not eligible.any():
            out.append({})
            continue
        if per_trip is None:
            per_trip = _category_per_trip(enc)
        found: list[tuple[int, Highlight]] = []
        found += _category_changes(per_trip, enc, span, eligible, cur_n, prev_n, thresholds)
        found += _weekday_shift(trips, span, eligible, thresholds)
        found += _new_favourites(enc, per_product, span, k * n, eligible, thresholds)
        out.append(_rank(found, thresholds))
    return out


def _rank(found: list[tuple[int, Highlight]], thresholds: Thresholds) -> dict[int, list[Highlight]]:
    """Each shopper's strongest highlights first, with few new favourites among them."""
    out: dict[int, list[Highlight]] = {}
    favourites: dict[int, int] = {}
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


@dataclass
class _PerTrip:
    """Spend per shopper, category and trip (order), sorted that way, as plain arrays.

    `group` numbers the (shopper, category) pairs in that order; `group_s` and
    `group_category` map a group back.
    """

    s: np.ndarray
    dayn: np.ndarray
    total: np.ndarray
    group: np.ndarray
    group_s: np.ndarray
    group_category: np.ndarray


def _category_per_trip(enc: _Encoded) -> _PerTrip:
    lines = enc.lines
    per = lines.groupby(["s", "category_id", "order_id"]).agg(
        total=("amount_paid", "sum"), dayn=("dayn", "first")
    )
    s = per.index.get_level_values("s").to_numpy()
    category = per.index.get_level_values("category_id").to_numpy()
    starts = np.ones(len(s), dtype=bool)
    starts[1:] = (s[1:] != s[:-1]) | (category[1:] != category[:-1])
    return _PerTrip(
        s=s,
        dayn=per["dayn"].to_numpy(),
        total=per["total"].to_numpy(),
        group=np.cumsum(starts) - 1,
        group_s=s[starts],
        group_category=category[starts],
    )


def _trip_stats(
    per_trip: _PerTrip, window: Window, eligible: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per (shopper, category) group with trips in `window`: the groups, and a (3, groups)
    array of the sum and the sum of squares of spend per trip, and the trips."""
    dayn, s = per_trip.dayn, per_trip.s
    inside = (dayn >= _daynum(window.start)) & (dayn <= _daynum(window.end)) & eligible[s]
    group = per_trip.group[inside]
    total = per_trip.total[inside]
    # pandas' grouped sum (compensated, in row order), so the sums match a plain group-by.
    sums = pd.DataFrame({"total": total, "sumsq": total**2}).groupby(group, sort=True).sum()
    groups = sums.index.to_numpy(dtype=np.int64)
    trips = np.bincount(group, minlength=len(per_trip.group_s))[groups].astype(np.float64)
    return groups, np.vstack([sums["total"].to_numpy(), sums["sumsq"].to_numpy(), trips])


def _welch_z(
    total_a: np.ndarray,
    sumsq_a: np.ndarray,
    n_a: np.ndarray,
    total_b: np.ndarray,
    sumsq_b: np.ndarray,
    n_b: np.ndarray,
) -> np.ndarray:
    """Welch's z for the difference of two means, from sums and sums of squares.

    Samples without variance and with different means give +-inf (a certain difference).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a, mean_b = total_a / n_a, total_b / n_b
        var_a = np.maximum(sumsq_a - n_a * mean_a**2, 0) / np.maximum(n_a - 1, 1)
        var_b = np.maximum(sumsq_b - n_b * mean_b**2, 0) / np.maximum(n_b - 1, 1)
        se = np.sqrt(var_a / n_a + var_b / n_b)
        diff = mean_a - mean_b
        # Float noise in sumsq - n * mean^2 can leave a tiny positive variance; treat as none.
        se = np.where(se > 1e-9 * (np.abs(mean_a) + np.abs(mean_b) + 1.0), se, 0.0)
        z = diff / np.where(se > 0, se, np.nan)
        certain = np.where(diff != 0, np.sign(diff) * np.inf, 0.0)
    return np.where(se > 0, z, certain)


def _category_changes(
    per_trip: _PerTrip,
    enc: _Encoded,
    span: _Span,
    eligible: np.ndarray,
    cur_n: np.ndarray,
    prev_n: np.ndarray,
    thresholds: Thresholds,
) -> list[tuple[int, Highlight]]:
    window, previous = span.window, span.previous
    cur_groups, cur = _trip_stats(per_trip, window, eligible)
    prev_groups, prev = _trip_stats(per_trip, previous, eligible)
    if not len(cur_groups) and not len(prev_groups):
        return []
    # The outer join of both windows' groups, 0 where a window has none.
    groups = np.union1d(cur_groups, prev_groups)
    now = np.zeros((3, len(groups)))
    now[:, np.searchsorted(groups, cur_groups)] = cur
    before = np.zeros((3, len(groups)))
    before[:, np.searchsorted(groups, prev_groups)] = prev
    (total_cur, sumsq_cur, trips_cur), (total_prev, sumsq_prev, trips_prev) = now, before
    shopper = per_trip.group_s[groups]
    change = total_cur - total_prev
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = change / np.where(total_prev != 0, total_prev, np.nan)
    relative = np.where(np.isnan(relative), 0.0, relative)
    z = _welch_z(
        total_cur,
        sumsq_cur,
        cur_n[shopper].astype(float),
        total_prev,
        sumsq_prev,
        prev_n[shopper].astype(float),
    )
    kept = np.flatnonzero(
        (total_prev > 0)
        & (np.maximum(trips_cur, trips_prev) >= thresholds.min_purchase_trips)
        & (np.abs(relative) >= thresholds.min_relative_change)
        & (np.abs(change) >= thresholds.min_absolute_change)
        & (np.abs(z) >= thresholds.min_z)
        & (np.sign(z) == np.sign(change))
    )
    keep = zip(
        shopper[kept].tolist(),
        per_trip.group_category[groups[kept]].tolist(),
        change[kept].tolist(),
        relative[kept].tolist(),
        total_cur[kept].tolist(),
        total_prev[kept].tolist(),
        z[kept].tolist(),
        strict=True,
    )
    found = []
    for s, category_id, change_, relative_, now_, before_, z_ in keep:
        row = _ChangeRow(s, category_id, change_, relative_, now_, before_, z_)
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
                int(row.s),
                Highlight(
                    key=f"{kind}:{row.category_id}:{window.end:%Y-%m}",
                    kind=kind,
                    params={
                        "category": enc.category_names.get(row.category_id),
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


@dataclass
class _ChangeRow:
    """One kept (shopper, category) comparison, as Python numbers for the highlight."""

    s: int
    category_id: int
    change: float
    relative: float
    total_cur: float
    total_prev: float
    z: float


def _weekday_counts(trips: pd.DataFrame, window: Window, eligible: np.ndarray) -> np.ndarray:
    """Trips per shopper code (rows) and weekday (columns) within `window`."""
    dayn = trips["dayn"].to_numpy()
    s = trips["s"].to_numpy()
    inside = (dayn >= _daynum(window.start)) & (dayn <= _daynum(window.end)) & eligible[s]
    cell = s[inside] * 7 + trips["weekday"].to_numpy(np.int64)[inside]
    return np.bincount(cell, minlength=len(eligible) * 7).reshape(len(eligible), 7)


def _weekday_shift(
    trips: pd.DataFrame, span: _Span, eligible: np.ndarray, thresholds: Thresholds
) -> list[tuple[int, Highlight]]:
    """The favourite weekday moved: a two-proportion z-test on the new day's share of trips."""
    window, previous = span.window, span.previous
    cur_counts = _weekday_counts(trips, window, eligible)
    prev_counts = _weekday_counts(trips, previous, eligible)
    n_cur = cur_counts.sum(axis=1)
    n_prev = prev_counts.sum(axis=1)
    top_cur = cur_counts.argmax(axis=1)
    top_prev = prev_counts.argmax(axis=1)
    candidates = np.flatnonzero(
        eligible
        & (n_cur >= thresholds.weekday_min_trips)
        & (n_prev >= thresholds.weekday_min_trips)
        & (top_cur != top_prev)
    )
    found = []
    for shopper in candidates.tolist():
        a, b = int(n_cur[shopper]), int(n_prev[shopper])
        new_day, old_day = int(top_cur[shopper]), int(top_prev[shopper])
        now_count, before_count = cur_counts[shopper, new_day], prev_counts[shopper, new_day]
        share_now = now_count / a
        share_before = before_count / b
        if share_now - share_before < thresholds.weekday_min_share_change:
            continue
        pooled = (now_count + before_count) / (a + b)
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
                        "old_share_before": round(float(prev_counts[shopper, old_day] / b) * 100),
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


def _pair_counts(lines: pd.DataFrame, s: np.ndarray, product_id: pd.Series) -> np.ndarray:
    """How many of `lines` have each (shopper code, product id) pair of the candidates."""
    ids = lines["product_id"].to_numpy()
    wanted = product_id.to_numpy()
    if ids.dtype.kind in "iu" and wanted.dtype.kind in "iu" and len(ids):
        # Integer ids: one integer key per pair, counted with a sort (no MultiIndex).
        low = int(min(ids.min(), wanted.min())) if len(wanted) else int(ids.min())
        span = int(max(ids.max(), wanted.max() if len(wanted) else ids.max())) - low + 1
        top = int(max(lines["s"].max(), s.max() if len(s) else 0)) + 1
        if span * top < 2**62:
            keys = lines["s"].to_numpy(np.int64) * span + (ids.astype(np.int64) - low)
            asked = s.astype(np.int64) * span + (wanted.astype(np.int64) - low)
            keys.sort()
            return np.searchsorted(keys, asked, "right") - np.searchsorted(keys, asked, "left")
    counts = lines.groupby(["s", "product_id"]).size()
    index = pd.MultiIndex.from_arrays([s, wanted])
    return counts.reindex(index).fillna(0).astype(int).to_numpy()


def _new_favourites(
    enc: _Encoded,
    per_product: pd.DataFrame,
    span: _Span,
    low: int,
    eligible: np.ndarray,
    thresholds: Thresholds,
) -> list[tuple[int, Highlight]]:
    window = span.window
    if per_product.empty:
        return []
    slot = per_product["slot"].to_numpy()
    start, end = np.searchsorted(slot, [low, low + len(eligible)])
    per = per_product.iloc[start:end]
    shopper = per["slot"].to_numpy() - low
    per = per[(per["trips"].to_numpy() >= thresholds.favourite_min_trips) & eligible[shopper]]
    if per.empty:
        return []
    per = per.assign(s=per["slot"].to_numpy() - low)
    # Trips with the product before the window, for these candidates only.
    lines = enc.lines
    earlier = lines[
        lines["trip_product"].to_numpy()
        & (lines["dayn"].to_numpy() < span.first)
        & eligible[lines["s"].to_numpy()]
    ]
    per = per.assign(before=_pair_counts(earlier, per["s"].to_numpy(), per["product_id"]))
    per = per[per["before"] <= thresholds.favourite_max_before]
    found = []
    for row in per.itertuples(index=False):
        weeks = max(1, math.ceil((row.last - row.first + 1) / 7))
        found.append(
            (
                int(row.s),
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
    return [x if isinstance(x, str) else str(x) for x in values.to_numpy(dtype=object)]


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
