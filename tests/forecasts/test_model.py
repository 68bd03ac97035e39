"""The pure repurchase model: features, next trip, shopper decisions, popular fallback, fitting."""

import numpy as np
import pandas as pd
import pytest

from insights.forecasts import features, model

T0 = pd.Timestamp("2024-03-04 10:00", tz="UTC")  # a Monday


def day(n: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


def history(rows) -> pd.DataFrame:
    """rows: (customer, order, product, day, quantity[, category])."""
    records = []
    for row in rows:
        customer, order, product, d, quantity, *rest = row
        category = rest[0] if rest else product // 10
        records.append((customer, order, product, day(d), float(quantity), category, 1))
    return pd.DataFrame(records, columns=model.HISTORY_COLUMNS)


# Customer 1 shops weekly on Mondays: milk (10) every week, coffee (20) once.
WEEKLY = history(
    [
        (1, 100, 10, 0, 1),
        (1, 100, 20, 0, 2),
        (1, 101, 10, 7, 2),
        (1, 102, 10, 14, 2),
        (1, 102, 30, 14, 1),
    ]
)


def hazard_model(**overrides) -> model.FittedModel:
    """A hand-built model: log-odds = log(ratio), so probability rises as a product falls due."""
    values = {
        "features": ["log_ratio"],
        "params": np.array([0.0, 1.0]),
        "mean": np.zeros(1),
        "scale": np.ones(1),
        "product_repeat": pd.Series(dtype=float),
        "global_repeat": 0.3,
        "category_cycle": pd.Series(dtype=float),
        "default_cycle": 14.0,
        "popular": pd.DataFrame({"product_id": [500, 501], "score": [0.2, 0.1]}),
        "as_of": day(21),
        "n_customers": 1,
        "n_examples": 0,
    }
    values.update(overrides)
    return model.FittedModel(**values)


def test_features_on_a_toy_history_give_known_intervals_and_ratios():
    cp = features.customer_product_features(WEEKLY, day(21)).set_index("product_id")

    milk = cp.loc[10]
    assert milk["n_purchases"] == 3
    assert milk["freq"] == pytest.approx(1.0)
    # Gaps 7 and 7, shrunk towards the overall rate 21 days / 3 purchases = 7: still 7.
    assert milk["interval_days"] == pytest.approx(7.0)
    assert milk["days_since_last"] == pytest.approx(7.0)
    assert milk["expected_quantity"] == pytest.approx(2.0)  # median of the last three: 1, 2, 2
    assert milk["ratio"] == pytest.approx((7.0 + milk["days_to_trip"]) / 7.0)
    assert milk["last_rev"] == 0

    coffee = cp.loc[20]
    assert coffee["n_purchases"] == 1
    assert coffee["interval_days"] == pytest.approx(21.0)  # no gap yet: 21 days / 1 purchase
    assert coffee["days_since_last"] == pytest.approx(21.0)
    assert coffee["last_rev"] == 2
    assert coffee["freq"] == pytest.approx(1 / 3)
    # Decayed frequency weighs the oldest basket least: 0.9² / (1 + 0.9 + 0.9²).
    assert coffee["dec_slow"] == pytest.approx(0.81 / 2.71)


def test_features_ignore_lines_on_or_after_as_of():
    later = pd.concat([WEEKLY, history([(1, 103, 10, 21, 5)])], ignore_index=True)
    cp = features.customer_product_features(later, day(21)).set_index("product_id")
    assert cp.loc[10, "n_purchases"] == 3


def test_next_trip_follows_the_median_gap_and_the_weekday_habit():
    trips = model.predict_next_trip(WEEKLY, day(16)).set_index("customer_id")
    assert trips.loc[1, "next_trip_at"] == day(21)
    assert trips.loc[1, "typical_basket_size"] == 2
    assert trips.loc[1, "mean_gap_days"] == pytest.approx(7.0)


def test_an_overdue_shopper_is_expected_now_not_a_gap_later():
    trips = model.predict_next_trip(WEEKLY, day(21)).set_index("customer_id")
    assert day(21) < trips.loc[1, "next_trip_at"] <= day(22)


def test_predict_with_trips_is_predict_and_next_trip_of_the_same_shoppers():
    # Customer 2 shops every ten days; customer 3 twice (a new shopper: popular items too).
    two = history([(2, 200 + k, 10 + k % 2, 10 * k, 1) for k in range(4)])
    three = history([(3, 300, 10, 2, 1), (3, 301, 40, 9, 1)])
    both = pd.concat([WEEKLY, two, three], ignore_index=True)
    shoppers = [1, 2, 3]
    predictions, trips = model.predict_with_trips(
        both, day(21), hazard_model(), customer_ids=shoppers, top_k=2
    )
    alone = model.predict(both, day(21), hazard_model(), customer_ids=shoppers, top_k=2)
    pd.testing.assert_frame_equal(predictions, alone)
    pd.testing.assert_frame_equal(trips, model.predict_next_trip(both, day(21)))
    assert set(predictions["customer_id"]) == set(trips["customer_id"]) == {1, 2, 3}
    _, some = model.predict_with_trips(both, day(21), hazard_model(), customer_ids=[2])
    pd.testing.assert_frame_equal(some, model.predict_next_trip(two, day(21)))


def test_predict_ranks_personal_products_with_every_column():
    out = model.predict(WEEKLY, day(21), hazard_model())
    assert list(out.columns) == model.OUTPUT_COLUMNS
    assert list(out["rank"]) == [1, 2, 3]
    assert set(out["source"]) == {"personal"}
    milk = out.set_index("product_id").loc[10]
    # Last bought day 14, every 7 days: due day 21, which is now; so on the next trip.
    next_trip = model.predict_next_trip(WEEKLY, day(21))["next_trip_at"].iloc[0]
    assert milk["expected_date"] == next_trip
    assert milk["probability"] == pytest.approx(
        1 / (1 + 1 / ((7 + _days_to_trip(WEEKLY, day(21))) / 7))
    )


def _days_to_trip(frame, as_of):
    cp = features.customer_product_features(frame, as_of)
    return float(cp["days_to_trip"].iloc[0])


def adjustments(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(c, p, a, at, until) for c, p, a, at, until in rows],
        columns=["customer_id", "product_id", "action", "at", "until"],
    )
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["until"] = pd.to_datetime(frame["until"], utc=True)
    return frame


def test_the_expected_date_is_the_last_purchase_plus_the_interval_when_not_yet_due():
    out = model.predict(WEEKLY, day(16), hazard_model()).set_index("product_id")
    assert out.loc[10, "expected_date"] == day(21)
    assert out.loc[10, "last_bought"] == day(14)
    assert out.loc[10, "first_bought"] == day(0)


def test_predict_never_suggests_a_never_again_product():
    adj = adjustments((1, 10, "never", day(15), pd.NaT))
    out = model.predict(WEEKLY, day(21), hazard_model(), adjustments=adj)
    assert 10 not in set(out["product_id"])
    assert {20, 30} <= set(out["product_id"])


def test_predict_hides_a_snoozed_product_until_the_snooze_ends():
    adj = adjustments((1, 10, "snooze", day(15), day(25)))
    hidden = model.predict(WEEKLY, day(21), hazard_model(), adjustments=adj)
    assert 10 not in set(hidden["product_id"])

    back = model.predict(WEEKLY, day(26), hazard_model(), adjustments=adj)
    milk = back.set_index("product_id").loc[10]
    assert milk["expected_date"] >= day(25)


def test_i_still_have_some_stretches_the_cadence_and_lowers_the_probability():
    plain = model.predict(WEEKLY, day(21), hazard_model()).set_index("product_id")
    adj = adjustments((1, 10, "still_have", day(20), pd.NaT))
    stretched = model.predict(WEEKLY, day(21), hazard_model(), adjustments=adj)
    stretched = stretched.set_index("product_id")

    assert stretched.loc[10, "interval_days"] == pytest.approx(7.0 * model.STILL_HAVE_STRETCH)
    assert stretched.loc[10, "expected_date"] == day(20 + 7.0 * model.STILL_HAVE_STRETCH)
    assert stretched.loc[10, "probability"] < plain.loc[10, "probability"]
    assert stretched.loc[20, "probability"] == pytest.approx(plain.loc[20, "probability"])


def test_i_still_have_some_before_the_last_purchase_is_forgotten():
    plain = model.predict(WEEKLY, day(21), hazard_model()).set_index("product_id")
    adj = adjustments((1, 10, "still_have", day(3), pd.NaT))
    out = model.predict(WEEKLY, day(21), hazard_model(), adjustments=adj).set_index("product_id")
    assert out.loc[10, "interval_days"] == pytest.approx(plain.loc[10, "interval_days"])


def test_not_this_time_lowers_the_probability_until_the_next_shop():
    plain = model.predict(WEEKLY, day(21), hazard_model()).set_index("product_id")
    adj = adjustments((1, 10, "not_this_time", day(18), pd.NaT))
    out = model.predict(WEEKLY, day(21), hazard_model(), adjustments=adj).set_index("product_id")
    assert out.loc[10, "probability"] == pytest.approx(
        plain.loc[10, "probability"] * model.NOT_THIS_TIME_FACTOR
    )
    # After another shop the decision no longer applies.
    shopped = pd.concat([WEEKLY, history([(1, 103, 30, 19, 1)])], ignore_index=True)
    before = model.predict(shopped, day(21), hazard_model()).set_index("product_id")
    after = model.predict(shopped, day(21), hazard_model(), adjustments=adj)
    assert after.set_index("product_id").loc[10, "probability"] == pytest.approx(
        before.loc[10, "probability"]
    )


def test_a_new_shopper_gets_popular_suggestions_labelled_as_such():
    newcomer = history([(2, 200, 10, 14, 1)])
    out = model.predict(
        pd.concat([WEEKLY, newcomer]), day(21), hazard_model(), customer_ids=[1, 2, 3]
    )
    regular = out[out["customer_id"] == 1]
    assert set(regular["source"]) == {"personal"}

    new = out[out["customer_id"] == 2].sort_values("rank")
    assert list(new["source"]) == ["personal", "popular", "popular"]
    assert list(new["product_id"]) == [10, 500, 501]
    assert new["probability"].iloc[1] == pytest.approx(0.2)

    unknown = out[out["customer_id"] == 3]
    assert list(unknown["product_id"]) == [500, 501]
    assert set(unknown["source"]) == {"popular"}
    assert unknown["expected_date"].isna().all()


def test_top_k_keeps_the_best_k_per_shopper():
    out = model.predict(WEEKLY, day(21), hazard_model(), top_k=2)
    assert list(out["rank"]) == [1, 2]


def test_popular_products_count_contributors_only():
    frame = history(
        [
            (1, 100, 10, 0, 1),
            (1, 101, 10, 7, 1),
            (2, 200, 20, 0, 1),
            (3, 300, 30, 1, 1),
            (3, 301, 30, 2, 1),
            (3, 302, 30, 3, 1),
        ]
    )
    popular = model.popular_products(frame, day(21), contributor_customer_ids=[1, 2])
    assert list(popular["product_id"]) == [10, 20]
    assert list(popular["score"]) == pytest.approx([2 / 3, 1 / 3])


def synthetic_history(n_customers: int, *, seed: int, first_customer: int = 1) -> pd.DataFrame:
    """Weekly shoppers: a staple every trip, a product every third trip, random extras."""
    rng = np.random.default_rng(seed)
    rows = []
    order = first_customer * 1000
    for customer in range(first_customer, first_customer + n_customers):
        for trip in range(16):
            order += 1
            d = trip * 7 + float(rng.integers(0, 2))
            rows.append((customer, order, 10, d, 1))
            if trip % 3 == 0:
                rows.append((customer, order, 20, d, 1))
            for extra in rng.choice(np.arange(100, 130), size=2, replace=False):
                rows.append((customer, order, int(extra), d, 1))
    return history(rows)


def test_fit_model_learns_only_from_train_customer_ids():
    contributors = synthetic_history(12, seed=1)
    others = synthetic_history(12, seed=2, first_customer=50)
    # The others alone buy product 999, every trip.
    extra = others[others["product_id"] == 10].assign(product_id=999)
    everyone = pd.concat([contributors, others, extra], ignore_index=True)
    as_of = day(16 * 7)

    fitted = model.fit_model(everyone, as_of, train_customer_ids=range(1, 13))
    alone = model.fit_model(contributors, as_of)

    assert fitted.n_customers == 12
    assert 999 not in fitted.product_repeat.index
    assert 999 not in set(fitted.popular["product_id"])
    np.testing.assert_allclose(fitted.params, alone.params)
    assert fitted.summary["coefficients"].keys() == alone.summary["coefficients"].keys()


def test_the_fitted_model_ranks_the_due_staple_first():
    frame = synthetic_history(12, seed=3)
    as_of = day(16 * 7)
    fitted = model.fit_model(frame, as_of)
    out = model.predict(frame, as_of, fitted, customer_ids=[1])
    assert out.iloc[0]["product_id"] == 10
    assert 0.0 < out.iloc[0]["probability"] <= 1.0
