"""Turning a stored snapshot into what the page shows: sentences, Decimals and charts."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.template.defaultfilters import date as format_date
from django.utils.dates import WEEKDAYS
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from insights.habits import charts
from insights.habits.analysis import FOLDED_ID
from insights.habits.models import HabitHighlight, HabitSnapshot
from insights.purchases.models import Channel
from insights.purchases.templatetags.kvitto import currency_symbol, money, money_affixes, percent


def _day(value: str) -> str:
    return format_date(date.fromisoformat(value), pgettext("date format", "j M Y"))


def highlight_text(highlight: HabitHighlight, currency: str) -> dict[str, str]:
    """The plain-language sentence of a highlight and what it compares."""
    p = highlight.params
    if highlight.kind in ("category_up", "category_down"):
        values = {
            "percent": p["percent"],
            "category": p["category"] or _("Uncategorised"),
            "now": money(p["now"], currency),
            "before": money(p["before"], currency),
        }
        if highlight.kind == "category_down" and not float(p["now"]):
            text = _(
                "You bought no %(category)s this period, against %(before)s the period before."
            )
        elif highlight.kind == "category_up" and not float(p["before"]):
            text = _("You spent %(now)s on %(category)s, new this period.")
        elif highlight.kind == "category_up" and p["percent"] >= 200:
            values["times"] = number_format(round(float(p["now"]) / float(p["before"]), 1), 1)
            text = _(
                "You spent %(times)s times as much on %(category)s: %(now)s, "
                "against %(before)s the period before."
            )
        elif highlight.kind == "category_up":
            text = _(
                "You spent %(percent)s%% more on %(category)s: %(now)s, "
                "against %(before)s the period before."
            )
        else:
            text = _(
                "You spent %(percent)s%% less on %(category)s: %(now)s, "
                "against %(before)s the period before."
            )
        return {"text": text % values, "compares": _compares(p)}
    if highlight.kind == "weekday_shift":
        text = _(
            "You now shop mostly on %(new)s instead of %(old)s: %(share_now)s%% of your trips, "
            "against %(share_before)s%% the period before."
        ) % {
            "new": WEEKDAYS[p["new_weekday"]],
            "old": WEEKDAYS[p["old_weekday"]],
            "share_now": p["share_now"],
            "share_before": p["share_before"],
        }
        return {"text": text, "compares": _compares(p)}
    if highlight.kind == "new_favourite":
        text = ngettext(
            "A new favourite: %(product)s, %(times)s times in %(weeks)s week.",
            "A new favourite: %(product)s, %(times)s times in %(weeks)s weeks.",
            p["weeks"],
        ) % {"product": p["product"], "times": p["times"], "weeks": p["weeks"]}
        compares = ngettext(
            "Trips from %(start)s to %(end)s, against %(before)s trip with it ever before.",
            "Trips from %(start)s to %(end)s, against %(before)s trips with it ever before.",
            p["before"],
        ) % {"start": _day(p["window_start"]), "end": _day(p["window_end"]), "before": p["before"]}
        return {"text": text, "compares": compares}
    return {"text": highlight.key, "compares": ""}


def _compares(p: dict[str, Any]) -> str:
    return _("Compares %(start)s – %(end)s with %(previous_start)s – %(previous_end)s.") % {
        "start": _day(p["window_start"]),
        "end": _day(p["window_end"]),
        "previous_start": _day(p["previous_start"]),
        "previous_end": _day(p["previous_end"]),
    }


def _category_name(row: dict[str, Any]) -> str:
    if row["category_id"] == FOLDED_ID:
        return _("All other categories")
    return row["category"] or _("Uncategorised")


def _category_url(base: str, row: dict[str, Any], period_filter: dict[str, str]) -> str:
    """The history narrowed to the category; the folded/uncategorised rows keep the period."""
    if row["category_id"] < 0:
        return charts.history_url(base, **period_filter)
    return charts.history_url(base, category=row["category_id"], **period_filter)


def _percent(share: float | None) -> str:
    return f"{round((share or 0) * 100)}"


def page_context(
    snapshot: HabitSnapshot, highlights: list[HabitHighlight], currency: str
) -> dict[str, Any]:
    """Everything the sections need, from the stored JSON (no queries)."""
    data = snapshot.data or {}
    if not data:
        return {"ready": False}
    window = data["window"]
    period_filter = {"from": window["start"], "to": window["end"]}
    totals = data["totals"]
    rhythm = data["rhythm"]
    channel_names = dict(Channel.choices)
    categories = data["categories"]
    series = charts.department_series(data["monthly"])
    months = sorted({row["month"] for row in data["monthly"]})
    seps = charts.separators()
    affixes = money_affixes(currency)
    cell = {(r["month"], r["department_id"]): r["spend"] for r in data["monthly"]}
    month_rows = charts.table_rows(
        [
            [("th", month)]
            + [("num", charts.money(cell.get((month, s["id"]), "0"), seps)) for s in series]
            for month in months
        ]
    )
    heat = data["heatmap"]
    base = charts.history_base()

    def product(p: dict[str, Any]) -> dict[str, Any]:
        return dict(
            p,
            spend=Decimal(p["spend"]),
            url=charts.history_url(base, q=p["product"], **period_filter),
        )

    return {
        "ready": True,
        "data": data,
        # Names the currency of the tables' bare numbers: "SEK", or "kr" in Swedish.
        "currency_label": currency_symbol(currency),
        "window": window,
        "state": data["state"],
        "waiting_for": set(data["waiting_for"]),
        "spend": Decimal(totals["spend"]),
        "trips": totals["trips"],
        "history_trips": totals.get("history_trips", totals["trips"]),
        "previous_trips": totals.get("previous_trips", 0),
        "previous_window": data["previous"],
        "saved": Decimal(totals["saved"]),
        "discount": Decimal(totals["discount"]),
        "coupon_discount": Decimal(totals["coupon_discount"]),
        "saved_percent": _percent(totals["saved_share"]),
        "rhythm": rhythm,
        "basket_value": Decimal(rhythm["basket_value"]) if rhythm["basket_value"] else None,
        "series": series,
        "month_rows": month_rows,
        "category_rows": charts.table_rows(
            [
                [
                    ("", _category_name(c)),
                    ("", c["department"]),
                    ("num", charts.money(c["spend"], seps)),
                    ("num", percent(_percent(c["share"]))),
                ]
                for c in categories
            ]
        ),
        "trend_rows": charts.table_rows(
            [
                [
                    ("", p["start"]),
                    ("num", p["trips"]),
                    ("num", charts.money(p["avg_value"], seps)),
                    ("num", p["avg_items"]),
                ]
                for p in data["basket_trend"]
            ]
        ),
        "monthly_chart": charts.monthly_spend(data["monthly"], currency, base, seps)
        if months
        else "",
        "category_chart": charts.bar_list(
            [dict(c, label=_category_name(c)) for c in categories],
            chart_id="chart-categories",
            title=_("Where the money goes, by category"),
            label_key="label",
            value_key="spend",
            url_for=lambda c: _category_url(base, c, period_filter),
            value_text=lambda c: (
                f"{charts.amount(c['spend'], seps, affixes)} ({percent(_percent(c['share']))})"
            ),
        )
        if categories
        else "",
        "top_by_spend": [product(p) for p in data["top_by_spend"]],
        "top_by_count": [product(p) for p in data["top_by_count"]],
        "channels": [
            dict(
                c,
                name=channel_names.get(c["channel"], c["channel"]),
                spend=Decimal(c["spend"]),
                percent=_percent(c["share"]),
                url=charts.history_url(base, channel=c["channel"], **period_filter),
            )
            for c in data["channels"]
        ],
        # Wide for a screen, tall for a phone; habits.css shows the one that fits.
        "heatmap_chart": charts.heatmap(heat, window["start"], window["end"], base)
        + charts.heatmap_tall(heat, window["start"], window["end"], base),
        "heat_rows": charts.heat_table(heat, [str(WEEKDAYS[i]) for i in range(7)]),
        "hours": range(24),
        "trend_unit": data["trend_unit"],
        "trend_chart": charts.basket_trend(
            data["basket_trend"], data["trend_unit"], currency, window["end"], base, seps
        )
        if data["basket_trend"]
        else "",
        "highlights": [
            {"obj": h, **highlight_text(h, currency)} for h in highlights if h.dismissed_at is None
        ],
    }
