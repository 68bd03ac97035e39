"""The offline evaluation: splits, metrics on hand-computed examples, P-TopFreq and TIFU-KNN."""

import math

import numpy as np
import pandas as pd
import pytest

from insights.forecasts import evaluation, model

T0 = pd.Timestamp("2024-03-04 10:00", tz="UTC")


def day(n: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


def history(rows) -> pd.DataFrame:
    """rows: (customer, order, product, day)."""
    return pd.DataFrame(
        [(c, o, p, day(d), 1.0, 1, 1) for c, o, p, d in rows], columns=model.HISTORY_COLUMNS
    )


def hand_split() -> evaluation.Split:
    targets = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2],
            "product_id": [1, 2, 3, 4, 9],
            "placed_at": [day(10)] * 4 + [day(12)],
        }
    )
    return evaluation.Split(
        cutoff=day(9),
        customers=np.array([1, 2]),
        targets=targets,
        basket_size=pd.Series({1: 2, 2: 1}),
    )


def test_metrics_match_a_hand_computed_example():
    rankings = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2],
            "product_id": [1, 5, 2, 7, 8],
            "rank": [1, 2, 3, 1, 2],
            "expected_date": [day(12), day(20), day(6), day(1), day(1)],
        }
    )
    scores = evaluation.score_rankings(rankings, hand_split(), with_dates=True)

    # Customer 1: hits at ranks 1 and 3 of 4 targets; customer 2: none of 1.
    assert scores["recall@10"] == pytest.approx((2 / 4 + 0) / 2)
    assert scores["recall@20"] == pytest.approx((2 / 4 + 0) / 2)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)
    assert scores["ndcg@10"] == pytest.approx((dcg / idcg + 0) / 2)
    assert scores["hit@10"] == pytest.approx(0.5)
    # F1 at the typical basket size: customer 1 lists 2 (one hit): P 1/2, R 1/4 → 1/3.
    assert scores["f1@n"] == pytest.approx((1 / 3 + 0) / 2)
    # Dates of the predicted target products: |day 12 − day 10| and |day 6 − day 10|.
    assert scores["mae_days"] == pytest.approx(3.0)
    assert scores["n"] == 2


def test_a_shopper_without_predictions_scores_zero_not_missing():
    rankings = pd.DataFrame({"customer_id": [1], "product_id": [1], "rank": [1]})
    scores = evaluation.score_rankings(rankings, hand_split())
    assert scores["recall@10"] == pytest.approx((1 / 4 + 0) / 2)
    assert math.isnan(scores["mae_days"])


def test_split_needs_three_baskets_before_the_cutoff_and_targets_the_first_after():
    frame = history(
        [
            (1, 1, 10, 0),
            (1, 2, 10, 1),
            (1, 3, 11, 2),
            (1, 4, 12, 5),  # first basket after the cutoff (day 4): the target
            (1, 5, 13, 6),
            (2, 6, 10, 0),
            (2, 7, 10, 1),  # two baskets only
            (2, 8, 10, 5),
            (3, 9, 10, 0),
            (3, 10, 10, 1),
            (3, 11, 10, 2),  # no basket after the cutoff
        ]
    )
    split = evaluation.make_split(frame, day(4))
    assert list(split.customers) == [1]
    assert list(split.targets["product_id"]) == [12]


def test_a_validation_split_never_reaches_past_the_test_cutoff():
    frame = history([(1, 1, 10, 0), (1, 2, 10, 1), (1, 3, 10, 2), (1, 4, 12, 9)])
    assert evaluation.make_split(frame, day(4), before=day(8)).n == 0
    assert evaluation.make_split(frame, day(4), before=day(10)).n == 1


def test_p_topfreq_ranks_by_count_and_breaks_ties_by_recency():
    frame = history(
        [
            (1, 1, 100, 0),
            (1, 1, 200, 0),
            (1, 2, 100, 1),
            (1, 3, 200, 2),  # 200 ties 100 on two baskets but was bought later
            (1, 3, 300, 2),
            (1, 4, 999, 9),  # after as_of: ignored
        ]
    )
    ranked = evaluation.p_topfreq(frame, day(5), [1])
    assert list(ranked["product_id"]) == [200, 100, 300]
    assert list(ranked["rank"]) == [1, 2, 3]


THREE_USERS = history(
    [
        (1, 1, 1, 0),  # user 1: {a}, {a, b}
        (1, 2, 1, 1),
        (1, 2, 2, 1),
        (2, 3, 1, 0),  # user 2: {a, b}, {b}
        (2, 3, 2, 0),
        (2, 4, 2, 1),
        (3, 5, 3, 0),  # user 3: {c}
    ]
)


def test_tifu_vectors_decay_within_and_across_groups_by_hand():
    frame = history([(1, 1, 1, 0), (1, 2, 2, 1), (1, 3, 3, 2)])  # {a}, {b}, {c}
    vectors = evaluation.tifu_vectors(frame, day(5), m=2, r_b=0.5, r_g=0.5)
    row = vectors.matrix.toarray()[0]
    # Groups from the latest: [{b}, {c}] (2 baskets) and [{a}] (1); 2 groups.
    # c: 0.5^0/2 · 0.5^0/2; b: 0.5^1/2 · 0.5^0/2; a: 0.5^0/1 · 0.5^1/2.
    np.testing.assert_allclose(row, [0.25, 0.125, 0.25])


def test_tifu_knn_blends_the_nearest_neighbour_by_hand():
    vectors = evaluation.tifu_vectors(THREE_USERS, day(5), m=1, r_b=1.0, r_g=1.0)
    # One basket per group: the plain mean of baskets. u1 = (1, .5, 0), u2 = (.5, 1, 0),
    # u3 = (0, 0, 1); user 1's nearest neighbour is user 2 (cosine .8 against 0).
    np.testing.assert_allclose(vectors.matrix.toarray()[0], [1.0, 0.5, 0.0])
    ranked = evaluation.tifu_knn_scores(vectors, [1], k=1, alpha=0.8)
    assert list(ranked["product_id"]) == [1, 2]
    np.testing.assert_allclose(ranked["score"], [0.8 * 1 + 0.2 * 0.5, 0.8 * 0.5 + 0.2 * 1])

    alone = evaluation.tifu_knn_scores(vectors, [1], k=1, alpha=1.0)
    np.testing.assert_allclose(alone["score"], [1.0, 0.5])


def test_tifu_knn_can_suggest_a_product_only_the_neighbours_bought():
    frame = pd.concat([THREE_USERS, history([(2, 4, 4, 1)])], ignore_index=True)
    vectors = evaluation.tifu_vectors(frame, day(5), m=1, r_b=1.0, r_g=1.0)
    ranked = evaluation.tifu_knn_scores(vectors, [1], k=1, alpha=0.5)
    assert 4 in set(ranked["product_id"])
    assert 3 not in set(ranked["product_id"])  # nobody near user 1 bought c


def test_load_complete_journey_drops_never_listed_departments(tmp_path):
    pd.DataFrame(
        {
            "household_id": [1, 1, 1],
            "basket_id": [10, 10, 11],
            "product_id": [100, 200, 300],
            "quantity": [1, 1, 2],
            "transaction_timestamp": pd.to_datetime(
                ["2017-01-01 10:00", "2017-01-01 10:00", "2017-01-02 11:00"]
            ),
        }
    ).to_parquet(tmp_path / "transactions.parquet")
    pd.DataFrame(
        {
            "product_id": [100, 200, 300],
            "department": ["PRODUCE", "FUEL", "CNTRL/STORE SUP"],
            "product_category": ["BANANAS", "GASOLINE", "BAGS"],
        }
    ).to_parquet(tmp_path / "products.parquet")
    frame = evaluation.load_complete_journey(tmp_path)
    assert list(frame.columns) == model.HISTORY_COLUMNS
    assert list(frame["product_id"]) == [100]
    assert frame["placed_at"].iloc[0] == pd.Timestamp("2017-01-01 10:00", tz="UTC")


def test_the_report_shows_every_cutoff_and_method():
    metrics = {
        name: {
            "recall@10": 0.1,
            "recall@20": 0.2,
            "ndcg@10": 0.15,
            "hit@10": 0.5,
            "f1@n": 0.1,
            "mae_days": math.nan,
            "n": 2.0,
        }
        for name in evaluation.METHODS
    }
    results = [
        evaluation.CutoffResult(
            cutoff=pd.Timestamp(c, tz="UTC"), n_households=2, metrics=metrics, tifu_params={}
        )
        for c in ("2017-09-01", "2017-10-01")
    ]
    report = evaluation.report_markdown(results, command="manage.py evaluate_forecasts")
    for cutoff in ("2017-09-01", "2017-10-01"):
        for method in evaluation.METHODS:
            assert f"| {cutoff} | 2 | {method} |" in report
    assert "+0.0%" in report


def test_the_second_ablation_drops_exactly_the_timing_in_days_and_in_trips():
    removed = set(model.ALL_FEATURES) - set(evaluation.NO_TIMING_FEATURES)
    assert removed == set(model.TIMING_FEATURES) | set(model.TRIP_RECENCY_FEATURES)
    assert set(evaluation.NO_TIMING_FEATURES) <= set(model.FREQUENCY_FEATURES)
