"""'Often bought together': pairwise association rules over baskets, and completing a list.

Pure pandas/scipy. Callers pass only the baskets of shoppers who granted
`model_improvement`; a rule is a cross-shopper signal.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse

RULE_COLUMNS = ["antecedent", "consequent", "support", "confidence", "lift", "support_count"]


def _empty_rules() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "antecedent": pd.Series(dtype="int64"),
            "consequent": pd.Series(dtype="int64"),
            "support": pd.Series(dtype=float),
            "confidence": pd.Series(dtype=float),
            "lift": pd.Series(dtype=float),
            "support_count": pd.Series(dtype="int64"),
        }
    )


def association_rules(
    baskets: pd.DataFrame,
    *,
    min_support_count: int = 30,
    min_confidence: float = 0.2,
    max_rules: int = 5000,
) -> pd.DataFrame:
    """Rules antecedent → consequent between single products.

    baskets: order_id, product_id (duplicates ignored). support = share of baskets with
    both; confidence = P(consequent | antecedent); lift = confidence / P(consequent).
    Only pairs seen together in at least `min_support_count` baskets, with confidence at
    least `min_confidence` and lift above 1 (a pair bought together no more often than
    chance is not "bought together"); the `max_rules` with the highest confidence, then lift.
    """
    pairs = baskets[["order_id", "product_id"]].drop_duplicates()
    n_baskets = pairs["order_id"].nunique()
    if n_baskets == 0:
        return _empty_rules()
    counts = pairs.groupby("product_id").size()
    # A pair cannot be more frequent than either product alone: prune before counting.
    frequent = counts[counts >= min_support_count]
    pairs = pairs[pairs["product_id"].isin(frequent.index)]
    if len(frequent) < 2 or pairs.empty:
        return _empty_rules()
    products = frequent.index.to_numpy()
    item = pd.Index(products).get_indexer(pairs["product_id"])
    order = pd.factorize(pairs["order_id"])[0]
    matrix = sparse.csr_matrix(
        (np.ones(len(item), dtype=np.int32), (order, item)),
        shape=(order.max() + 1, len(products)),
    )
    together = (matrix.T @ matrix).tocoo()
    keep = (together.row != together.col) & (together.data >= min_support_count)
    a, c, n_ac = together.row[keep], together.col[keep], together.data[keep].astype(float)
    if len(a) == 0:
        return _empty_rules()
    n_a = frequent.to_numpy(dtype=float)[a]
    p_c = frequent.to_numpy(dtype=float)[c] / n_baskets
    confidence = n_ac / n_a
    rules = pd.DataFrame(
        {
            "antecedent": products[a].astype("int64"),
            "consequent": products[c].astype("int64"),
            "support": n_ac / n_baskets,
            "confidence": confidence,
            "lift": confidence / p_c,
            "support_count": n_ac.astype("int64"),
        }
    )
    rules = rules[(rules["confidence"] >= min_confidence) & (rules["lift"] > 1.0)]
    rules = rules.sort_values(
        ["confidence", "lift", "antecedent", "consequent"],
        ascending=[False, False, True, True],
        kind="mergesort",
    )
    return rules.head(max_rules).reset_index(drop=True)[RULE_COLUMNS]


def complete_list(
    rules: pd.DataFrame,
    list_product_ids: Iterable[int],
    *,
    exclude: Iterable[int] = (),
    top_n: int = 5,
) -> pd.DataFrame:
    """Products often bought with what is on the list: product_id, because_of, confidence.

    Each suggestion names the list product behind its strongest rule. Products already on
    the list or in `exclude` (never again, snoozed, …) are not suggested.
    """
    on_list = {int(p) for p in list_product_ids}
    blocked = on_list | {int(p) for p in exclude}
    empty = pd.DataFrame(
        {
            "product_id": pd.Series(dtype="int64"),
            "because_of": pd.Series(dtype="int64"),
            "confidence": pd.Series(dtype=float),
        }
    )
    if rules is None or rules.empty or not on_list:
        return empty
    hits = rules[rules["antecedent"].isin(on_list) & ~rules["consequent"].isin(blocked)]
    if hits.empty:
        return empty
    best = hits.sort_values(
        ["confidence", "lift", "antecedent"], ascending=[False, False, True], kind="mergesort"
    ).drop_duplicates("consequent")
    out = best.head(top_n).rename(columns={"consequent": "product_id", "antecedent": "because_of"})
    return out[["product_id", "because_of", "confidence"]].reset_index(drop=True)
