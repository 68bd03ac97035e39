"""Highlight sentences and chart markup: what the shopper reads, and what the CSP allows."""

import re

import pytest
from django.utils import translation

from insights.habits import charts
from insights.habits.models import HabitHighlight
from insights.habits.presentation import highlight_text

WINDOWS = {
    "window_start": "2026-10-04",
    "window_end": "2026-10-31",
    "previous_start": "2026-09-06",
    "previous_end": "2026-10-03",
}


def text_of(kind: str, **params) -> dict[str, str]:
    return highlight_text(HabitHighlight(kind=kind, params={**WINDOWS, **params}), "SEK")


def test_a_rise_says_how_much_and_what_it_compares():
    out = text_of("category_up", category="Snacks", percent=23, now=123.0, before=100.0)
    assert out["text"] == (
        "You spent 23% more on Snacks: SEK\xa0123.00, against SEK\xa0100.00 the period before."
    )
    assert out["compares"] == "Compares 4 Oct 2026 – 31 Oct 2026 with 6 Sep 2026 – 3 Oct 2026."


def test_a_large_rise_is_told_as_times_as_much_and_a_drop_to_nothing_plainly():
    rise = text_of("category_up", category="Juice", percent=774, now=24.39, before=2.79)
    assert rise["text"].startswith("You spent 8.7 times as much on Juice")
    drop = text_of("category_down", category="Seafood", percent=100, now=0.0, before=39.42)
    assert drop["text"] == (
        "You bought no Seafood this period, against SEK\xa039.42 the period before."
    )


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (
            "category_up",
            {"percent": 23, "now": 1788.6, "before": 1454.15},
            "Du lade 23\xa0% mer på Snacks: 1\xa0788,60\xa0kr, mot 1\xa0454,15\xa0kr perioden "
            "innan.",
        ),
        (
            "category_up",
            {"percent": 774, "now": 24.39, "before": 2.79},
            "Du lade 8,7 gånger så mycket på Snacks: 24,39\xa0kr, mot 2,79\xa0kr perioden innan.",
        ),
        (
            "category_up",
            {"percent": 100, "now": 12.5, "before": 0},
            "Du lade 12,50\xa0kr på Snacks, nytt för den här perioden.",
        ),
        (
            "category_down",
            {"percent": 40, "now": 60, "before": 100},
            "Du lade 40\xa0% mindre på Snacks: 60,00\xa0kr, mot 100,00\xa0kr perioden innan.",
        ),
        (
            "category_down",
            {"percent": 100, "now": 0, "before": 39.42},
            "Du köpte inget inom Snacks den här perioden, mot 39,42\xa0kr perioden innan.",
        ),
    ],
)
def test_a_swedish_highlight_writes_money_as_the_history_does(kind, params, expected):
    with translation.override("sv"):
        assert text_of(kind, category="Snacks", **params)["text"] == expected


def test_chart_labels_name_the_currency_as_the_language_does():
    monthly = [{"month": "2026-10", "department_id": 7, "department": "Dairy", "spend": "1234.5"}]
    trend = [{"start": "2026-10-01", "trips": 3, "avg_value": "1234.5", "avg_items": 4}]
    with translation.override("sv"):
        svg = str(charts.monthly_spend(monthly, "SEK", "/history/"))
        svg += str(charts.basket_trend(trend, "month", "SEK", "2026-10-31", "/history/"))
    assert "Dairy, 2026-10: 1\xa0234,50\xa0kr</title>" in svg
    assert "2026-10-01: 3 inköp, 1\xa0234,50\xa0kr per varukorg</title>" in svg
    assert '<text class="axis-label" x="4" y="16">kr</text>' in svg  # the amount axis
    assert "SEK" not in svg
    with translation.override("en"):
        assert charts.amount("-1234.5") == "-SEK\xa01,234.50"


def test_time_axes_name_months_and_days_instead_of_numbers():
    monthly = [
        {"month": m, "department_id": 7, "department": "Dairy", "spend": "10"}
        for m in ("2026-11", "2026-12", "2027-01")
    ]
    weeks = [
        {"start": d, "trips": 1, "avg_value": "10", "avg_items": 1}
        for d in ("2026-11-09", "2026-11-16")
    ]
    ticks = re.compile(r'<text class="tick"[^>]*text-anchor="middle">([^<]*)</text>')  # x axis
    with translation.override("en"):
        assert ticks.findall(str(charts.monthly_spend(monthly, "SEK", "/h/"))) == [
            "Nov 2026",  # the axis begins
            "Dec",
            "Jan 2027",  # a year begins
        ]
        weekly = str(charts.basket_trend(weeks, "week", "SEK", "2026-11-22", "/h/"))
        assert ticks.findall(weekly) == ["9 Nov", "16 Nov"]  # never "09/11"
    with translation.override("sv"):
        assert ticks.findall(str(charts.monthly_spend(monthly, "SEK", "/h/"))) == [
            "nov 2026",
            "dec",
            "jan 2027",
        ]
        # With January next, the first tick leaves the year to it: no two long ticks abut.
        assert ticks.findall(str(charts.monthly_spend(monthly[1:], "SEK", "/h/"))) == [
            "dec",
            "jan 2027",
        ]


def test_a_weekday_shift_names_the_days():
    out = text_of("weekday_shift", new_weekday=5, old_weekday=3, share_now=60, share_before=10)
    assert out["text"].startswith("You now shop mostly on Saturday instead of Thursday: 60%")


def test_a_new_favourite_counts_times_and_weeks():
    out = text_of("new_favourite", product="Oat milk", times=6, weeks=5, before=0)
    assert out["text"] == "A new favourite: Oat milk, 6 times in 5 weeks."
    assert "against 0 trips with it ever before" in out["compares"]


def test_charts_have_titles_links_and_no_style_attributes(settings):
    matrix = [[0] * 24 for _ in range(7)]
    matrix[5][10] = 4
    svg = str(charts.heatmap(matrix, "2026-10-04", "2026-10-31", "/history/"))
    assert svg.count("<rect") == 168
    assert 'aria-labelledby="chart-heatmap-title"' in svg
    assert "<title>Sat 10:00: 4 trips</title>" in svg
    assert svg.count("<a href") == 1  # only hours with trips narrow the history
    assert "weekday=5&amp;hour=10&amp;from=2026-10-04&amp;to=2026-10-31" in svg
    assert "style=" not in svg
    monthly = [
        {"month": "2026-10", "department_id": 7, "department": "Dairy <b>", "spend": "12.50"}
    ]
    svg = str(charts.monthly_spend(monthly, "SEK", "/history/"))
    assert "Dairy &lt;b&gt;, 2026-10: SEK\xa012.50" in svg
    assert re.search(r'href="/history/\?department=7&amp;from=2026-10-01&amp;to=2026-10-31"', svg)


def test_the_phone_heat_map_has_the_same_cells_and_links_on_its_side():
    matrix = [[0] * 24 for _ in range(7)]
    matrix[5][10] = 4
    wide = str(charts.heatmap(matrix, "2026-10-04", "2026-10-31", "/history/"))
    tall = str(charts.heatmap_tall(matrix, "2026-10-04", "2026-10-31", "/history/"))
    assert 'id="chart-heatmap-tall"' in tall and 'class="chart"' in tall
    assert tall.count("<rect") == 168
    assert re.findall(r"<title>[^<]*</title>", tall) == re.findall(r"<title>[^<]*</title>", wide)
    assert re.findall(r'href="[^"]*"', tall) == re.findall(r'href="[^"]*"', wide)
    # Saturday is the sixth column, 10:00 the eleventh row.
    cell = re.search(r'<rect class="cell h5" x="(\d+)" y="(\d+)"', tall)
    assert (int(cell[1]), int(cell[2])) == (32 + 5 * 40, 22 + 10 * 16)
    assert "style=" not in tall


def test_the_heat_scale_has_an_empty_step_and_five_shades():
    assert charts.heat_class(0, 10) == "h0"
    assert charts.heat_class(1, 10) == "h1"
    assert charts.heat_class(10, 10) == "h5"
