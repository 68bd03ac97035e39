"""'Often bought together': association rules on a toy basket set, and completing a list."""

import pandas as pd
import pytest

from insights.forecasts import rules

A, B, C, D = 1, 2, 3, 4


def baskets(*contents) -> pd.DataFrame:
    return pd.DataFrame(
        [(order, product) for order, items in enumerate(contents, 1) for product in items],
        columns=["order_id", "product_id"],
    )


# A in 3 baskets, B in 3, C in 2, D in 4; A+B twice, A+C once, D with everything by chance.
TOY = baskets({A, B, D}, {A, B}, {A, C, D}, {B, D}, {C, D})


def test_association_rules_match_hand_counts():
    found = rules.association_rules(TOY, min_support_count=2, min_confidence=0.5)
    by_pair = found.set_index(["antecedent", "consequent"])

    ab = by_pair.loc[(A, B)]
    assert ab["support"] == pytest.approx(2 / 5)
    assert ab["confidence"] == pytest.approx(2 / 3)
    assert ab["lift"] == pytest.approx((2 / 3) / (3 / 5))
    assert ab["support_count"] == 2
    assert by_pair.loc[(B, A), "confidence"] == pytest.approx(2 / 3)


def test_rules_below_the_support_count_or_at_chance_are_dropped():
    found = rules.association_rules(TOY, min_support_count=2, min_confidence=0.5)
    pairs = set(zip(found["antecedent"], found["consequent"], strict=True))
    assert (A, C) not in pairs  # together once only
    # C → D: confidence 2/2 = 1 but D is in 4 of 5 baskets; lift 1.25 > 1 keeps it.
    assert (C, D) in pairs
    # B → D: 2/3 confidence against 4/5 baseline: lift below 1, not "bought together".
    assert (B, D) not in pairs


def test_rules_are_ordered_by_confidence_and_capped():
    found = rules.association_rules(TOY, min_support_count=2, min_confidence=0.5, max_rules=2)
    assert len(found) == 2
    assert list(found["confidence"]) == sorted(found["confidence"], reverse=True)
    assert found.iloc[0]["confidence"] == pytest.approx(1.0)


def test_no_baskets_give_no_rules():
    empty = rules.association_rules(baskets(), min_support_count=1)
    assert empty.empty
    assert list(empty.columns) == rules.RULE_COLUMNS


def test_complete_list_suggests_what_goes_with_the_list_and_says_why():
    found = rules.association_rules(TOY, min_support_count=2, min_confidence=0.5)
    suggestions = rules.complete_list(found, [A])
    assert list(suggestions["product_id"]) == [B]
    assert list(suggestions["because_of"]) == [A]
    assert suggestions["confidence"].iloc[0] == pytest.approx(2 / 3)


def test_complete_list_skips_what_is_on_the_list_or_excluded():
    found = rules.association_rules(TOY, min_support_count=2, min_confidence=0.5)
    assert rules.complete_list(found, [A, B]).empty
    assert rules.complete_list(found, [A], exclude=[B]).empty
    assert rules.complete_list(found, []).empty


def test_complete_list_keeps_the_strongest_reason_per_suggestion():
    found = pd.DataFrame(
        {
            "antecedent": [A, C],
            "consequent": [B, B],
            "support": [0.1, 0.1],
            "confidence": [0.4, 0.7],
            "lift": [2.0, 2.0],
            "support_count": [5, 5],
        }
    )
    suggestions = rules.complete_list(found, [A, C], top_n=5)
    assert list(suggestions["because_of"]) == [C]
    assert suggestions["confidence"].iloc[0] == pytest.approx(0.7)
