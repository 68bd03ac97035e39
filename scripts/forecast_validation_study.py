"""Validation study for the repurchase GLM: which feature groups earn their place.

Research script, not product code. It never touches test baskets: each cutoff given here is
a validation cutoff (the protocol's test cutoff minus 28 days), with targets bounded by the
test cutoff. For every cutoff it builds training examples from 8 weekly cutoffs before it
(every shopper, labels before the cutoff), fits `statsmodels.Logit` on several feature sets
and scores Recall@10 / NDCG@10 on the validation baskets, next to TIFU-KNN with its
default parameters. Run from the worktree:

    .venv/bin/python scripts/forecast_validation_study.py 2017-08-04 2017-07-15

Feature sets beyond the model's own (`design_matrix`) are built here so they can be tried
before they are moved into the product:

- trip ratio: trips since the last purchase (+1 for the next trip) divided by the
  shopper's typical number of trips between purchases of the product (n_baskets /
  n_purchases), its log and six hazard buckets of that log (a free, non-monotone shape);
- day-ratio buckets: the same six buckets of the model's calendar ratio (days since the
  last purchase at the next trip / the product's own interval), alone and times
  "bought at least twice" (a cycle needs two purchases);
- interactions of the log ratios with log purchase count, and of the frequencies with the
  log number of baskets.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.forecasts import evaluation as ev  # noqa: E402
from insights.forecasts import model as fm  # noqa: E402
from insights.forecasts.features import customer_product_features, history_before  # noqa: E402

EDGES = [-1.5, -0.7, -0.25, 0.25, 0.7, 1.5]
NEGATIVE_RATE = 0.05


def extra_features(c: pd.DataFrame, d: pd.DataFrame) -> pd.DataFrame:
    d = d.copy()
    trip_ratio = (c["last_rev"].to_numpy(float) + 1) * c["freq"].to_numpy(float)
    ltr = np.log(np.clip(trip_ratio, 1 / 32, 32))
    d["log_trip_ratio"] = ltr
    lr = d["log_ratio"].to_numpy()
    rep = (c["n_purchases"].to_numpy() >= 2).astype(float)
    d["rep"] = rep
    tb, db = np.digitize(ltr, EDGES), np.digitize(lr, EDGES)
    for k in range(1, len(EDGES) + 1):
        d[f"tb{k}"] = (tb == k).astype(float)
        d[f"db{k}"] = (db == k).astype(float)
        d[f"dbr{k}"] = d[f"db{k}"] * rep
    d["lr_x_logn"] = lr * d["log_n"]
    d["ltr_x_logn"] = ltr * d["log_n"]
    d["freq_x_lnb"] = d["freq"] * d["log_n_baskets"]
    d["dec_x_lnb"] = d["dec_fast"] * d["log_n_baskets"]
    return d


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mu, sd = x.mean(0), x.std(0)
    active = sd > 1e-9
    sd[~active] = 1.0
    xs = sm.add_constant(((x - mu) / sd)[:, active], has_constant="add")
    params = np.asarray(sm.Logit(y, xs).fit(disp=0, maxiter=200).params)
    return params, mu, sd, active


def ranked_metrics(cp: pd.DataFrame, score: np.ndarray, split: ev.Split) -> tuple[float, float]:
    r = ev.top_k_by(
        cp[["customer_id", "product_id"]].assign(s=score), ["s", "product_id"], [False, True], 20
    )
    m = ev.score_rankings(r, split)
    return m["recall@10"], m["ndcg@10"]


def main(cutoffs: list[str]) -> None:
    history = fm._prepare(ev.load_complete_journey())
    for day in cutoffs:
        started = time.monotonic()
        cutoff = pd.Timestamp(day, tz="UTC")
        split = ev.make_split(history, cutoff, before=cutoff + ev.VALIDATION_OFFSET)
        examples = fm.training_examples(history, cutoff, customers_per_cutoff=None, n_cutoffs=8)
        rng = np.random.default_rng(1)
        keep = (examples["label"] == 1) | (rng.random(len(examples)) < NEGATIVE_RATE)
        examples = examples[keep].reset_index(drop=True)
        past = history_before(history, cutoff)
        cp = customer_product_features(past[past["customer_id"].isin(set(split.customers))], cutoff)
        priors = fm._priors(past, cutoff)
        train = extra_features(examples, fm.design_matrix(examples, priors))
        valid = extra_features(cp, fm.design_matrix(cp, priors))
        y = examples["label"].to_numpy(float)

        vectors = ev.tifu_vectors(
            history, cutoff, **{k: ev.TIFU_DEFAULT[k] for k in ("m", "r_b", "r_g")}
        )
        tifu = ev.tifu_knn_scores(
            vectors, split.customers, k=ev.TIFU_DEFAULT["k"], alpha=ev.TIFU_DEFAULT["alpha"]
        )
        m = ev.score_rankings(tifu, split)
        print(
            f"{day}: {split.n} households; TIFU-KNN (default) {m['recall@10']:.4f} "
            f"{m['ndcg@10']:.4f}; P-TopFreq ",
            end="",
        )
        m = ev.score_rankings(ev.p_topfreq(history, cutoff, split.customers), split)
        print(f"{m['recall@10']:.4f} {m['ndcg@10']:.4f}", flush=True)

        no_trips = [f for f in fm.FREQUENCY_FEATURES if f not in ("last_basket", "log_rev")]
        tb = [f"tb{k}" for k in range(1, 7)]
        buckets = ["log_ratio", "rep"] + [f"db{k}" for k in range(1, 7)]
        buckets += [f"dbr{k}" for k in range(1, 7)] + ["log_interval", "log_since"]
        inter = ["lr_x_logn", "ltr_x_logn", "freq_x_lnb", "dec_x_lnb"]
        variants = {
            "frequency only (no trips since, no days)": no_trips,
            "+ trips since last purchase (model's FREQUENCY_FEATURES)": fm.FREQUENCY_FEATURES,
            "model's ALL_FEATURES (+ calendar timing)": fm.ALL_FEATURES,
            "frequency + trip ratio and its hazard buckets": no_trips + ["log_trip_ratio", *tb],
            "FREQUENCY_FEATURES + trip ratio buckets": fm.FREQUENCY_FEATURES
            + ["log_trip_ratio", *tb],
            "+ day-ratio hazard buckets x repeat": fm.FREQUENCY_FEATURES
            + ["log_trip_ratio", *tb, *buckets],
            "+ interactions": fm.FREQUENCY_FEATURES + ["log_trip_ratio", *tb, *buckets, *inter],
        }
        for name, features in variants.items():
            params, mu, sd, active = fit(train[features].to_numpy(float), y)
            x = ((valid[features].to_numpy(float) - mu) / sd)[:, active]
            recall, ndcg = ranked_metrics(cp, params[0] + x @ params[1:], split)
            print(f"  {name:58s} Recall@10 {recall:.4f} NDCG@10 {ndcg:.4f}", flush=True)
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["2017-08-04", "2017-07-15"])
