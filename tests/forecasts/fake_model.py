"""A tiny stand-in for model.py's interface, so service tests check the plumbing, not the fit.

Probability: the share of the shopper's baskets holding the product, raised when it is due.
It honours adjustments the way the interface documents: never drops, snooze hides until
`until`, still_have stretches the interval, not_this_time / ticked lower the probability.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


@dataclass
class FittedModel:
    train_customer_ids: list[int]
    popular: pd.DataFrame
    summary: dict = field(default_factory=dict)


def popular_products(history, as_of, *, contributor_customer_ids, top_n=20):
    h = history[history["customer_id"].isin(set(contributor_customer_ids))]
    h = h[h["placed_at"] < as_of]
    counts = h.groupby("product_id")["order_id"].nunique().sort_values(ascending=False)
    n = max(h["order_id"].nunique(), 1)
    top = counts.head(top_n)
    return pd.DataFrame({"product_id": top.index.astype("int64"), "score": top.to_numpy() / n})


def fit_model(history, as_of, *, train_customer_ids=None):
    ids = sorted(train_customer_ids or [])
    return FittedModel(
        train_customer_ids=ids,
        popular=popular_products(history, as_of, contributor_customer_ids=ids),
        summary={"coefficients": {"const": 0.0}},
    )


def predict_next_trip(history, as_of):
    rows = []
    for customer_id, h in history[history["placed_at"] < as_of].groupby("customer_id"):
        trips = h.groupby("order_id")["placed_at"].first().sort_values()
        gap = trips.diff().dt.total_seconds().div(86400).mean() if len(trips) > 1 else 7.0
        size = h.groupby("order_id")["product_id"].nunique().median()
        rows.append((customer_id, trips.iloc[-1] + gap * DAY, size, gap))
    return pd.DataFrame(
        rows, columns=["customer_id", "next_trip_at", "typical_basket_size", "mean_gap_days"]
    )


def predict_with_trips(history, as_of, model, *, customer_ids=None, adjustments=None, top_k=None):
    wanted = history if customer_ids is None else history[history["customer_id"].isin(customer_ids)]
    predictions = predict(
        history, as_of, model, customer_ids=customer_ids, adjustments=adjustments, top_k=top_k
    )
    return predictions, predict_next_trip(wanted, as_of)


def predict(history, as_of, model, *, customer_ids=None, adjustments=None, top_k=None):
    h = history[history["placed_at"] < as_of]
    wanted = list(customer_ids) if customer_ids is not None else list(h["customer_id"].unique())
    adj = adjustments if adjustments is not None else pd.DataFrame(columns=["customer_id"])
    rows = []
    for customer_id in wanted:
        mine = h[h["customer_id"] == customer_id]
        a = adj[adj["customer_id"] == customer_id] if len(adj) else adj
        n_baskets = mine["order_id"].nunique()
        last_shop = mine["placed_at"].max() if n_baskets else None
        for product_id, p in mine.groupby("product_id"):
            times = p.groupby("order_id")["placed_at"].first().sort_values()
            interval = times.diff().dt.total_seconds().div(86400).mean() if len(times) > 1 else 30.0
            prob = min(len(times) / max(n_baskets, 1), 0.95)
            expected = times.iloc[-1] + interval * DAY
            acts = a[a["product_id"] == product_id] if len(a) else a
            if len(acts) and (acts["action"] == "never").any():
                continue
            snooze = acts[acts["action"] == "snooze"] if len(acts) else acts
            if len(snooze):
                until = snooze["until"].max()
                if until > as_of:
                    continue
                expected = max(expected, until)
            still = acts[acts["action"] == "still_have"] if len(acts) else acts
            if len(still) and still["at"].max() > times.iloc[-1]:
                interval *= 1.5
                expected = max(times.iloc[-1] + interval * DAY, still["at"].max() + interval * DAY)
            for action in ("not_this_time", "ticked"):
                act = acts[acts["action"] == action] if len(acts) else acts
                if len(act) and act["at"].max() > last_shop:
                    prob *= 0.3
            rows.append(
                (
                    customer_id,
                    product_id,
                    prob,
                    p["quantity"].mean(),
                    expected,
                    len(times),
                    times.iloc[0],
                    times.iloc[-1],
                    interval,
                    "personal",
                )
            )
        if n_baskets < 3 and model is not None:
            for r in model.popular.itertuples():
                rows.append(
                    (
                        customer_id,
                        r.product_id,
                        r.score,
                        1.0,
                        pd.NaT,
                        0,
                        pd.NaT,
                        pd.NaT,
                        np.nan,
                        "popular",
                    )
                )
    out = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "product_id",
            "probability",
            "expected_quantity",
            "expected_date",
            "n_purchases",
            "first_bought",
            "last_bought",
            "interval_days",
            "source",
        ],
    )
    out["order"] = (out["source"] == "popular").astype(int)
    out = out.sort_values(["customer_id", "order", "probability"], ascending=[True, True, False])
    out = out.drop_duplicates(["customer_id", "product_id"])
    out["rank"] = out.groupby("customer_id").cumcount() + 1
    if top_k is not None:
        out = out[out["rank"] <= top_k]
    return out.drop(columns="order").reset_index(drop=True)
