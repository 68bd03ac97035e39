"""Unit tests of the pure habit analysis on small hand-built frames (no database)."""

import json
import math
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from insights.habits import analysis as a

AS_OF = date(2026, 10, 31)


def line(
    order_id: int,
    when: datetime,
    *,
    product: int = 1,
    category: int = 10,
    department: int = 100,
    amount: float = 10.0,
    quantity: float = 1.0,
    discount: float = 0.0,
    coupon: float = 0.0,
    channel: str = "store",
    shopper: int = 1,
) -> dict:
    return {
        "shopper": shopper,
        "order_id": order_id,
        "placed_at": pd.Timestamp(when, tz="Europe/Stockholm"),
        "channel": channel,
        "product_id": product,
        "product_name": f"Product {product}",
        "category_id": category,
        "category_name": f"Category {category}",
        "department_id": department,
        "department_name": f"Department {department}",
        "quantity": quantity,
        "amount_paid": amount,
        "discount": discount,
        "coupon_discount": coupon,
    }


def frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in a.LINE_COLUMNS})
    return pd.DataFrame(rows)


def has_nan(payload: object) -> bool:
    return "NaN" in json.dumps(payload) or "Infinity" in json.dumps(payload)


WINDOW_4W = a.period_window("4w", AS_OF)


def test_period_windows_end_on_as_of_and_previous_has_the_same_length():
    assert a.Window(date(2026, 10, 4), date(2026, 10, 31)) == WINDOW_4W
    assert a.period_window("3m", AS_OF) == a.Window(date(2026, 8, 1), AS_OF)
    assert a.period_window("12m", AS_OF).start == date(2025, 11, 1)
    assert WINDOW_4W.previous() == a.Window(date(2026, 9, 6), date(2026, 10, 3))
    with pytest.raises(ValueError, match="Unknown period"):
        a.period_window("5y", AS_OF)


def test_a_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="amount_paid"):
        a.prepare_lines(frame([line(1, datetime(2026, 10, 5, 10))]).drop(columns="amount_paid"))


def test_no_orders_gives_an_empty_summary_without_nan():
    summary = a.summarise(frame([]), as_of=AS_OF, window=WINDOW_4W)
    payload = a.to_payload(summary)
    assert summary.state == a.EMPTY
    assert payload["totals"]["spend"] == "0.00"
    assert payload["rhythm"]["median_gap_days"] is None
    assert payload["monthly"] == [] and payload["heatmap"] == [[0] * 24] * 7
    assert {"spend", "gap", "rhythm", "highlights", "savings"} <= set(summary.waiting_for)
    assert not has_nan(payload)


def test_one_order_has_totals_but_no_gap_and_says_what_is_still_to_come():
    rows = [line(1, datetime(2026, 10, 5, 10), amount=30.0), line(1, datetime(2026, 10, 5, 10))]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    payload = a.to_payload(summary)
    assert summary.state == a.THIN
    assert payload["totals"]["spend"] == "40.00"
    assert payload["rhythm"]["median_gap_days"] is None
    assert payload["rhythm"]["basket_value"] == "40.00"
    # Counted from the first trip ever (5 October), not from the window's start.
    assert payload["rhythm"]["trips_per_week"] == round(1 / (27 / 7), 2)
    assert "gap" in summary.waiting_for and "highlights" in summary.waiting_for
    assert not has_nan(payload)


def test_two_orders_give_the_gap_between_them():
    rows = [line(1, datetime(2026, 10, 5, 10)), line(2, datetime(2026, 10, 8, 22))]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    assert summary.rhythm["median_gap_days"] == pytest.approx(3.5)
    assert summary.heatmap.loc[0, 10] == 1  # Monday 10:00
    assert summary.heatmap.loc[3, 22] == 1  # Thursday 22:00
    assert int(summary.heatmap.to_numpy().sum()) == 2


def test_a_single_category_has_the_whole_share_and_no_discounts_means_zero_saved():
    rows = [line(i, datetime(2026, 10, 4 + i, 12), amount=25.0) for i in range(5)]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    expected = pd.DataFrame(
        {
            "category_id": [10],
            "category_name": ["Category 10"],
            "department_id": [100],
            "department_name": ["Department 100"],
            "spend": [125.0],
            "share": [1.0],
            "trips": [5],
        }
    )
    assert_frame_equal(summary.categories, expected, check_dtype=False)
    assert summary.totals["saved"] == 0.0
    assert summary.totals["saved_share"] == 0.0
    assert "savings" in summary.waiting_for
    assert not has_nan(a.to_payload(summary))


def test_spend_per_month_is_split_by_department_with_shares():
    rows = [
        line(1, datetime(2026, 9, 10, 12), department=100, amount=30.0),
        line(1, datetime(2026, 9, 10, 12), department=200, category=20, amount=10.0),
        line(2, datetime(2026, 10, 10, 12), department=100, amount=50.0),
    ]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=a.period_window("3m", AS_OF))
    expected = pd.DataFrame(
        {
            "month": ["2026-09", "2026-09", "2026-10"],
            "department_id": [100, 200, 100],
            "department_name": ["Department 100", "Department 200", "Department 100"],
            "spend": [30.0, 10.0, 50.0],
            "share": [0.75, 0.25, 1.0],
        }
    )
    assert_frame_equal(summary.monthly, expected, check_dtype=False)


def test_top_products_by_spend_and_by_count_differ():
    rows = [line(1, datetime(2026, 10, 5, 9), product=1, amount=100.0)]
    rows += [line(i, datetime(2026, 10, 5 + i, 9), product=2, amount=5.0) for i in range(2, 5)]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    assert summary.top_by_spend["product_id"].tolist() == [1, 2]
    assert summary.top_by_count["product_id"].tolist() == [2, 1]
    assert summary.top_by_count["trips"].tolist() == [3, 1]


def test_savings_add_discounts_and_coupons_and_share_of_the_full_price():
    rows = [
        line(1, datetime(2026, 10, 5, 9), amount=80.0, discount=15.0, coupon=5.0),
        line(2, datetime(2026, 10, 6, 9), amount=100.0),
    ]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    assert summary.totals["saved"] == 20.0
    assert summary.totals["saved_share"] == pytest.approx(20.0 / 200.0)


def test_channel_mix_counts_trips_per_channel():
    rows = [
        line(1, datetime(2026, 10, 5, 9), channel="web"),
        line(2, datetime(2026, 10, 6, 9), channel="store"),
        line(3, datetime(2026, 10, 7, 9), channel="store"),
    ]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    expected = pd.DataFrame(
        {
            "channel": ["store", "web"],
            "trips": [2, 1],
            "spend": [20.0, 10.0],
            "share": [2 / 3, 1 / 3],
        }
    )
    assert_frame_equal(summary.channels, expected, check_dtype=False)


def test_lines_after_as_of_and_before_the_window_are_left_out():
    rows = [
        line(1, datetime(2026, 10, 5, 9), amount=10.0),
        line(2, datetime(2026, 11, 2, 9), amount=999.0),
        line(3, datetime(2026, 9, 1, 9), amount=500.0),
    ]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    assert summary.totals["spend"] == 10.0
    assert summary.totals["trips"] == 1


def test_placed_at_in_utc_is_converted_to_the_shoppers_zone_before_weekday_and_hour():
    rows = [line(1, datetime(2026, 10, 4, 23, 30))]
    rows[0]["placed_at"] = pd.Timestamp("2026-10-04 23:30", tz="UTC")  # Monday 01:30 in Stockholm
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W, tz="Europe/Stockholm")
    assert summary.heatmap.loc[0, 1] == 1


def regular_shopper(weeks_before: int, weeks_now: int, *, now_amount: float, before_amount: float):
    """Two trips a week (Tuesday and Friday) with a snack line each, before and in the window."""
    rows = []
    order = 0
    for week in range(weeks_before + weeks_now):
        monday = datetime(2026, 9, 7) + timedelta(weeks=week)
        in_window = monday.date() >= WINDOW_4W.start
        for offset in (1, 4):
            order += 1
            when = monday + timedelta(days=offset, hours=17)
            rows.append(line(order, when, product=1, category=10, amount=40.0))
            snack = now_amount if in_window else before_amount
            rows.append(line(order, when, product=2, category=20, amount=snack))
    return rows


def test_a_real_rise_in_a_category_is_a_highlight_with_the_numbers_it_compares():
    rows = regular_shopper(4, 4, now_amount=30.0, before_amount=15.0)
    summary = a.summarise(frame(rows), as_of=date(2026, 10, 31), window=WINDOW_4W)
    kinds = {h.kind: h for h in summary.highlights}
    assert set(kinds) == {"category_up"}
    rise = kinds["category_up"]
    assert rise.params["category_id"] == 20
    assert rise.params["percent"] == 100
    assert rise.params["now"] == 240.0 and rise.params["before"] == 120.0
    assert rise.params["previous_start"] == "2026-09-06"
    assert rise.key == "category_up:20:2026-10"
    assert rise.text.startswith("You spent 100% more on Category 20")


def test_a_small_change_is_not_a_highlight():
    rows = regular_shopper(4, 4, now_amount=16.0, before_amount=15.0)
    summary = a.summarise(frame(rows), as_of=date(2026, 10, 31), window=WINDOW_4W)
    assert summary.highlights == []


def test_a_large_relative_change_on_a_tiny_amount_is_not_a_highlight():
    rows = regular_shopper(4, 4, now_amount=1.0, before_amount=0.5)
    summary = a.summarise(frame(rows), as_of=date(2026, 10, 31), window=WINDOW_4W)
    assert summary.highlights == []


def test_one_big_purchase_is_noise_not_a_trend():
    rows = regular_shopper(4, 4, now_amount=0.0, before_amount=0.0)
    rows = [r for r in rows if r["amount_paid"] > 0]
    rows.append(line(999, datetime(2026, 9, 8, 12), product=3, category=30, amount=10.0))
    rows.append(line(1000, datetime(2026, 10, 20, 12), product=3, category=30, amount=200.0))
    summary = a.summarise(frame(rows), as_of=date(2026, 10, 31), window=WINDOW_4W)
    assert [h for h in summary.highlights if h.kind.startswith("category")] == []


def test_too_few_trips_before_means_no_comparison_at_all():
    rows = regular_shopper(1, 4, now_amount=30.0, before_amount=15.0)
    summary = a.summarise(frame(rows), as_of=date(2026, 10, 31), window=WINDOW_4W)
    assert summary.highlights == []
    assert "highlights" in summary.waiting_for


def test_moving_from_tuesdays_to_saturdays_is_a_weekday_shift():
    rows = []
    for week in range(8):
        monday = datetime(2026, 9, 7) + timedelta(weeks=week)
        day = 1 if monday.date() < WINDOW_4W.start else 5
        for hour in (10, 17):
            rows.append(line(week * 10 + hour, monday + timedelta(days=day, hours=hour)))
    summary = a.summarise(frame(rows), as_of=date(2026, 10, 31), window=WINDOW_4W)
    shifts = [h for h in summary.highlights if h.kind == "weekday_shift"]
    assert len(shifts) == 1
    assert shifts[0].params["new_weekday"] == 5 and shifts[0].params["old_weekday"] == 1
    assert shifts[0].params["share_now"] == 100 and shifts[0].params["share_before"] == 0


def test_a_product_bought_often_in_the_window_and_never_before_is_a_new_favourite():
    rows = regular_shopper(4, 4, now_amount=15.0, before_amount=15.0)
    for i, day in enumerate((6, 13, 20, 27)):
        rows.append(line(500 + i, datetime(2026, 10, day, 8), product=77, category=40, amount=1.0))
    summary = a.summarise(frame(rows), as_of=date(2026, 10, 31), window=WINDOW_4W)
    favourites = [h for h in summary.highlights if h.kind == "new_favourite"]
    assert [h.params["product_id"] for h in favourites] == [77]
    assert favourites[0].params["times"] == 4
    assert favourites[0].params["weeks"] == 4
    assert favourites[0].text == "A new favourite: Product 77, 4 times in 4 weeks."


def test_earlier_purchases_of_favourite_candidates_are_counted_per_shopper_and_product():
    # The integer-key count (product ids as integers) and the general group-by (any other
    # ids) must agree, including pairs never bought and a product bought by someone else.
    earlier = pd.DataFrame({"s": [0, 0, 0, 1, 1, 2], "product_id": [7, 7, 9, 7, 123456789, 9]})
    shoppers = pd.Series([0, 0, 1, 1, 2, 2]).to_numpy()
    products = pd.Series([7, 9, 7, 9, 9, 123456789])
    as_integers = a._pair_counts(earlier, shoppers, products)
    as_floats = a._pair_counts(
        earlier.astype({"product_id": float}), shoppers, products.astype(float)
    )
    assert as_integers.tolist() == [2, 1, 1, 0, 1, 0]
    assert as_floats.tolist() == as_integers.tolist()


def test_many_shoppers_at_once_give_the_same_payload_as_one_at_a_time():
    alice = regular_shopper(4, 4, now_amount=30.0, before_amount=15.0)
    bob = [dict(r, shopper=2, amount_paid=r["amount_paid"] * 2) for r in alice[:9]]
    both = frame(alice + bob)
    frames = a.compute_frames(both, as_of=AS_OF, window=WINDOW_4W, shoppers=[1, 2, 3])
    payloads = a.payloads_many(frames)
    summaries = a.split_frames(frames)
    for shopper, rows in ((1, alice), (2, bob)):
        alone = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
        assert payloads[shopper] == a.to_payload(alone)
        assert_frame_equal(summaries[shopper].categories, alone.categories, check_dtype=False)
    assert payloads[3]["state"] == a.EMPTY
    assert payloads[3]["heatmap"] == [[0] * 24] * 7
    assert not has_nan(payloads)
    assert not math.isnan(summaries[2].totals["spend"])


def test_categories_past_the_first_forty_are_folded_into_one_row_with_their_total():
    rows = [
        line(i, datetime(2026, 10, 5, 9), category=100 + i, amount=float(100 - i))
        for i in range(45)
    ]
    summary = a.summarise(frame(rows), as_of=AS_OF, window=WINDOW_4W)
    assert len(summary.categories) == 41
    folded = summary.categories.iloc[-1]
    assert folded["category_id"] == a.FOLDED_ID
    assert folded["spend"] == sum(float(100 - i) for i in range(40, 45))
    assert summary.categories["share"].sum() == pytest.approx(1.0)


def year_of_two_shoppers() -> pd.DataFrame:
    """Two shoppers over fourteen months: several departments, products, channels, a shift."""
    rows = []
    order = 0
    start = datetime(2025, 9, 1, 8)
    for day in range(0, 425, 3):
        when = start + timedelta(days=day, hours=day % 11)
        late = when.date() >= date(2026, 8, 1)
        for shopper in (1, 2):
            order += 1
            channel = "web" if day % 4 == 0 else "store"
            rows.append(line(order, when, product=1, amount=20.0 + day % 7, shopper=shopper))
            rows.append(
                line(
                    order,
                    when,
                    product=2 + day % 5,
                    category=20 + day % 3,
                    department=200 + day % 9,
                    amount=(35.0 if late and shopper == 1 else 12.0) + day % 4,
                    discount=1.5 if day % 2 else 0.0,
                    channel=channel,
                    shopper=shopper,
                )
            )
            if late and shopper == 2 and day % 2:
                rows.append(line(order, when, product=99, category=90, amount=4.0, shopper=2))
    return frame(rows)


def test_all_periods_in_one_pass_equal_each_period_computed_alone():
    lines = year_of_two_shoppers()
    windows = {key: a.period_window(key, AS_OF) for key in a.PERIOD_KEYS}
    windows["custom"] = a.Window(date(2026, 2, 10), date(2026, 5, 20))
    together = a.compute_periods(lines, as_of=AS_OF, windows=windows, shoppers=[1, 2, 3])
    assert set(together) == set(windows)
    for key, window in windows.items():
        alone = a.compute_frames(lines, as_of=AS_OF, window=window, shoppers=[1, 2, 3])
        assert a.payloads_many(together[key]) == a.payloads_many(alone)
        assert together[key].highlights == alone.highlights
        assert together[key].window == alone.window
        assert together[key].previous == alone.previous
    # The windows really differ, so slicing one out of the other would have been caught.
    assert together["4w"].totals.loc[1, "trips"] < together["3m"].totals.loc[1, "trips"]
    assert any(together["3m"].highlights.values())


def test_each_window_of_one_pass_counts_exactly_its_own_lines():
    lines = year_of_two_shoppers()
    windows = {key: a.period_window(key, AS_OF) for key in a.PERIOD_KEYS}
    together = a.compute_periods(lines, as_of=AS_OF, windows=windows)
    day = lines["placed_at"].dt.tz_localize(None).dt.normalize()
    for key, window in windows.items():
        inside = lines[(day >= pd.Timestamp(window.start)) & (day <= pd.Timestamp(window.end))]
        spend = inside.groupby("shopper")["amount_paid"].sum()
        trips = inside.groupby("shopper")["order_id"].nunique()
        totals = together[key].totals
        assert totals["spend"].to_dict() == pytest.approx(spend.to_dict())
        assert totals["trips"].astype(int).to_dict() == trips.to_dict()
        payloads = a.payloads_many(together[key])
        assert sum(map(sum, payloads[1]["heatmap"])) == trips[1]


def test_a_window_can_be_computed_for_some_shoppers_only():
    lines = year_of_two_shoppers()
    windows = {"3m": a.period_window("3m", AS_OF), "custom": a.Window(date(2026, 1, 1), AS_OF)}
    together = a.compute_periods(
        lines, as_of=AS_OF, windows=windows, shoppers={"3m": [1, 2], "custom": [2]}
    )
    assert together["custom"].shoppers == [2]
    assert set(a.payloads_many(together["custom"])) == {2}
    assert set(together["custom"].highlights) <= {2}
    alone = a.compute_frames(lines, as_of=AS_OF, window=windows["custom"], shoppers=[2])
    assert a.payloads_many(together["custom"]) == a.payloads_many(alone)
