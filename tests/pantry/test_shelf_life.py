"""Pure shelf-life rules: no database, explicit dates, time zones and DST."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from insights.pantry import shelf_life
from insights.pantry.shelf_life import ShelfLife


def test_the_products_own_shelf_life_wins_over_the_category_default():
    estimate = shelf_life.estimate_best_before(
        bought_on=date(2026, 11, 3), shelf_life=ShelfLife(product_days=14, category_days=10)
    )
    assert estimate == shelf_life.Estimate(date(2026, 11, 17), "product", 14)


def test_the_category_default_is_used_when_the_product_has_none():
    estimate = shelf_life.estimate_best_before(
        bought_on=date(2026, 11, 3), shelf_life=ShelfLife(category_days=10)
    )
    assert estimate == shelf_life.Estimate(date(2026, 11, 13), "category", 10)


def test_an_unknown_shelf_life_is_not_guessed():
    assert (
        shelf_life.estimate_best_before(bought_on=date(2026, 11, 3), shelf_life=ShelfLife()) is None
    )


def test_opened_days_and_frozen_days_fall_back_to_the_category():
    life = ShelfLife(
        product_days=14, category_opened_days=4, product_frozen_days=60, category_frozen_days=90
    )
    assert life.opened_days == 4
    assert life.frozen_days == 60


def test_opening_shortens_to_the_opened_shelf_life():
    assert shelf_life.after_opening(
        best_before=date(2026, 11, 17), opened_on=date(2026, 11, 5), opened_days=4
    ) == date(2026, 11, 9)


def test_opening_never_lengthens_the_remaining_time():
    assert shelf_life.after_opening(
        best_before=date(2026, 11, 7), opened_on=date(2026, 11, 5), opened_days=4
    ) == date(2026, 11, 7)


def test_opening_without_a_known_opened_shelf_life_keeps_the_date():
    assert shelf_life.after_opening(
        best_before=date(2026, 11, 7), opened_on=date(2026, 11, 5), opened_days=None
    ) == date(2026, 11, 7)


def test_freezing_restarts_the_clock_on_the_frozen_shelf_life():
    assert shelf_life.after_freezing(
        best_before=date(2026, 11, 7), frozen_on=date(2026, 11, 5), frozen_days=90
    ) == date(2027, 2, 3)


def test_freezing_never_shortens_the_date():
    assert shelf_life.after_freezing(
        best_before=date(2027, 6, 1), frozen_on=date(2026, 11, 5), frozen_days=30
    ) == date(2027, 6, 1)


def test_a_category_share_overrides_the_shoppers_days():
    assert (
        shelf_life.due_soon_window_days(
            shelf_life_days=30, due_soon_days=2, category_share=Decimal("0.25")
        )
        == 8
    )
    assert (
        shelf_life.due_soon_window_days(shelf_life_days=30, due_soon_days=2, category_share=None)
        == 2
    )


def test_a_tiny_share_still_gives_one_day_of_warning():
    assert (
        shelf_life.due_soon_window_days(
            shelf_life_days=2, due_soon_days=3, category_share=Decimal("0.10")
        )
        == 1
    )


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 11, 14), "fresh"),
        (date(2026, 11, 15), "due_soon"),
        (date(2026, 11, 17), "due_soon"),
        (date(2026, 11, 18), "expired"),
    ],
)
def test_status_moves_from_fresh_to_due_soon_to_expired(as_of, expected):
    due = shelf_life.due_soon_from(best_before=date(2026, 11, 17), window_days=2)
    assert (
        shelf_life.status(best_before=date(2026, 11, 17), due_soon_on=due, as_of=as_of) == expected
    )


def test_a_late_evening_utc_receipt_is_bought_the_next_day_in_stockholm():
    moment = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    assert shelf_life.local_date(moment, "UTC") == date(2026, 11, 2)
    assert shelf_life.local_date(moment, "Europe/Stockholm") == date(2026, 11, 3)


def test_an_item_is_due_soon_in_stockholm_an_hour_before_it_is_in_utc():
    # Due soon from 15 Nov; at 23:30 UTC on 14 Nov it is already 15 Nov in Stockholm (CET).
    due = shelf_life.due_soon_from(best_before=date(2026, 11, 17), window_days=2)
    now = datetime(2026, 11, 14, 23, 30, tzinfo=UTC)
    in_stockholm = shelf_life.local_date(now, "Europe/Stockholm")
    in_utc = shelf_life.local_date(now, "UTC")
    assert (
        shelf_life.status(best_before=date(2026, 11, 17), due_soon_on=due, as_of=in_stockholm)
        == "due_soon"
    )
    assert (
        shelf_life.status(best_before=date(2026, 11, 17), due_soon_on=due, as_of=in_utc) == "fresh"
    )


def test_the_local_date_follows_summer_time_across_the_october_change():
    # Stockholm leaves summer time at 01:00 UTC on 25 Oct 2026: UTC+2 before, UTC+1 after.
    assert shelf_life.local_date(
        datetime(2026, 10, 24, 22, 30, tzinfo=UTC), "Europe/Stockholm"
    ) == date(2026, 10, 25)
    assert shelf_life.local_date(
        datetime(2026, 10, 25, 22, 30, tzinfo=UTC), "Europe/Stockholm"
    ) == date(2026, 10, 25)
    assert shelf_life.local_date(
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC), "Europe/Stockholm"
    ) == date(2026, 10, 26)


def test_the_local_date_follows_summer_time_across_the_march_change():
    # Summer time starts at 01:00 UTC on 29 Mar 2026: 22:30 UTC is 00:30 the next day after it.
    assert shelf_life.local_date(
        datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "Europe/Stockholm"
    ) == date(2026, 3, 28)
    assert shelf_life.local_date(
        datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "Europe/Stockholm"
    ) == date(2026, 3, 30)


def test_a_best_before_date_is_a_calendar_date_so_dst_does_not_shift_it():
    estimate = shelf_life.estimate_best_before(
        bought_on=date(2026, 10, 20), shelf_life=ShelfLife(product_days=10)
    )
    assert estimate.best_before == date(2026, 10, 30)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        shelf_life.local_date(datetime(2026, 11, 2, 23, 30), "Europe/Stockholm")  # noqa: DTZ001


@pytest.mark.parametrize(
    ("now", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(7, 59), True),
        (time(8, 0), False),
    ],
)
def test_quiet_hours_can_wrap_past_midnight(now, quiet):
    assert shelf_life.in_quiet_hours(now, start=time(21, 0), end=time(8, 0)) is quiet


def test_quiet_hours_within_one_day_and_none_at_all():
    assert shelf_life.in_quiet_hours(time(13, 30), start=time(13, 0), end=time(14, 0)) is True
    assert shelf_life.in_quiet_hours(time(14, 0), start=time(13, 0), end=time(14, 0)) is False
    assert shelf_life.in_quiet_hours(time(3, 0), start=None, end=None) is False
    assert shelf_life.in_quiet_hours(time(3, 0), start=time(8, 0), end=time(8, 0)) is False


def test_quiet_hours_are_judged_on_the_shoppers_clock_across_dst():
    # 19:30 UTC is 21:30 in Stockholm in summer (quiet) and 20:30 in winter (not quiet).
    summer = shelf_life.local_now(datetime(2026, 7, 1, 19, 30, tzinfo=UTC), "Europe/Stockholm")
    winter = shelf_life.local_now(datetime(2026, 12, 1, 19, 30, tzinfo=UTC), "Europe/Stockholm")
    assert shelf_life.in_quiet_hours(summer.time(), start=time(21, 0), end=time(8, 0)) is True
    assert shelf_life.in_quiet_hours(winter.time(), start=time(21, 0), end=time(8, 0)) is False


def test_the_usual_interval_is_the_median_gap_between_purchase_days():
    days = [
        date(2026, 9, 1),
        date(2026, 9, 22),
        date(2026, 9, 22),
        date(2026, 10, 13),
        date(2026, 12, 1),
    ]
    # Gaps 21, 21, 49: the median ignores the one long gap.
    assert shelf_life.usual_interval_days(days) == 21


def test_two_purchases_are_not_enough_for_a_rhythm():
    assert shelf_life.usual_interval_days([date(2026, 9, 1), date(2026, 9, 22)]) is None


def test_a_pack_that_outlasts_its_date_gets_a_hint():
    hint = shelf_life.use_in_time(
        usual_days=21,
        bought_on=date(2026, 11, 3),
        best_before=date(2026, 11, 13),
        as_of=date(2026, 11, 4),
    )
    assert hint == shelf_life.UseInTimeHint(usual_days=21, keeps_days=10, expires_in_days=9)


def test_a_pack_used_up_in_time_gets_no_hint():
    assert (
        shelf_life.use_in_time(
            usual_days=7,
            bought_on=date(2026, 11, 3),
            best_before=date(2026, 11, 13),
            as_of=date(2026, 11, 4),
        )
        is None
    )


def test_a_line_whose_date_passed_long_ago_is_not_worth_an_item():
    assert shelf_life.is_worth_tracking(date(2026, 11, 1), as_of=date(2026, 11, 8)) is True
    assert shelf_life.is_worth_tracking(date(2026, 10, 31), as_of=date(2026, 11, 8)) is False
