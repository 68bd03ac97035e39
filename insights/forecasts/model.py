"""The repurchase model: a discrete-time hazard GLM over (shopper, product), explicit as_of.

No ORM, clock or settings here: DataFrames in, DataFrames out. The statistics:

- candidates are the products a shopper bought before (the list is "buy again");
- each candidate gets frequency features (counts, basket-order decays) and timing features
  (time since the last purchase at the next trip relative to the shopper's own interval for
  that product, as a hazard shape in log-ratio hinges; the product's typical interval);
- a logistic GLM (statsmodels) fitted across contributing shoppers gives the probability
  that the product is in the shopper's next basket. Training examples replay several
  earlier cutoffs, each labelled by the shopper's first basket after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from insights.forecasts.features import (
    DAY,
    HISTORY_COLUMNS,
    basket_table,
    customer_product_features,
    customer_rhythm,
    history_before,
    next_basket_labels,
)

__all__ = [
    "HISTORY_COLUMNS",
    "FittedModel",
    "fit_model",
    "predict",
    "predict_next_trip",
    "predict_with_trips",
    "popular_products",
    "FREQUENCY_FEATURES",
    "TIMING_FEATURES",
    "TRIP_RECENCY_FEATURES",
]

FREQUENCY_FEATURES = [
    "log_n",
    "freq",
    "dec_fast",
    "dec_slow",
    "last_basket",
    "log_rev",
    "log_n_baskets",
    "prod_repeat",
    "cat_freq",
    "cat_dec",
    "share_in_cat",
]
# Everything measured in calendar days; the ablation drops exactly these.
TIMING_FEATURES = [
    "log_ratio",
    "hinge_lo",
    "hinge_due",
    "hinge_hi",
    "log_interval",
    "log_since",
    "regular_due",
    "cat_ratio",
    "log_trip_gap",
    "cat_lr",
    "cat_due",
    "cat_lo",
    "log_cat_interval",
]
ALL_FEATURES = FREQUENCY_FEATURES + TIMING_FEATURES
# Recency counted in trips (bought in the last basket, log baskets since the last purchase):
# timing too, in basket order rather than days. The evaluation's second ablation drops these
# as well as TIMING_FEATURES, leaving counts, shares, decayed shares and priors.
TRIP_RECENCY_FEATURES = ["last_basket", "log_rev"]

# A shopper with fewer baskets than this is "new": popular suggestions are added, labelled.
NEW_SHOPPER_BASKETS = 3
# Replayed training cutoffs: every TRAIN_STEP_DAYS before as_of, this many of them.
TRAIN_CUTOFFS = 6
TRAIN_STEP_DAYS = 7
# Shoppers sampled per training cutoff: enough for stable coefficients, fast on 2 cores.
TRAIN_CUSTOMERS_PER_CUTOFF = 700
# Share of negative examples kept for the fit (case-control sampling); the intercept is
# corrected by log(rate) afterwards, so probabilities stay calibrated.
NEGATIVE_SAMPLE_RATE = 0.2
SAMPLE_ABOVE_EXAMPLES = 50_000
# Smoothing (pseudo-purchases) for the product's cross-shopper repeat rate.
REPEAT_PRIOR_STRENGTH = 5.0
# Shopper decisions.
STILL_HAVE_STRETCH = 1.5
NOT_THIS_TIME_FACTOR = 0.3
TICKED_FACTOR = 0.3
POPULAR_WINDOW_DAYS = 90

OUTPUT_COLUMNS = [
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
    "rank",
]


@dataclass
class FittedModel:
    """Coefficients and cross-shopper priors, all learnt from the training shoppers only."""

    features: list[str]
    params: np.ndarray  # intercept first, then one per feature (on standardised features)
    mean: np.ndarray
    scale: np.ndarray
    product_repeat: pd.Series  # product_id -> smoothed share of purchases that are repeats
    global_repeat: float
    category_cycle: pd.Series  # category_id -> median own interval (days) across shoppers
    default_cycle: float
    popular: pd.DataFrame  # product_id, score
    as_of: pd.Timestamp
    n_customers: int
    n_examples: int
    summary: dict[str, Any] = field(default_factory=dict)

    def score(self, design: pd.DataFrame) -> np.ndarray:
        """Probability of the product being in the next basket, per design-matrix row."""
        x = (design[self.features].to_numpy(dtype=float) - self.mean) / self.scale
        eta = self.params[0] + x @ self.params[1:]
        return 1.0 / (1.0 + np.exp(-np.clip(eta, -30, 30)))


# --------------------------------------------------------------------------- features


def _priors(history: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any]:
    """Cross-shopper priors from `history` (callers pass contributors only)."""
    h = history_before(history, as_of)
    per = h.groupby(["customer_id", "product_id"]).agg(
        n=("order_id", "nunique"),
        first=("placed_at", "min"),
        last=("placed_at", "max"),
        category_id=("category_id", "first"),
    )
    purchases = per.groupby(level="product_id")["n"].sum()
    buyers = per.groupby(level="product_id")["n"].size()
    repeats = purchases - buyers
    global_repeat = float(repeats.sum() / max(purchases.sum(), 1))
    product_repeat = (repeats + REPEAT_PRIOR_STRENGTH * global_repeat) / (
        purchases + REPEAT_PRIOR_STRENGTH
    )
    multi = per[per["n"] >= 2]
    interval = (multi["last"] - multi["first"]) / DAY / (multi["n"] - 1)
    cycles = (
        pd.DataFrame({"category_id": multi["category_id"].to_numpy(), "i": interval.to_numpy()})
        .dropna()
        .groupby("category_id")["i"]
        .median()
    )
    default_cycle = float(interval.median()) if len(interval) else 30.0
    if not np.isfinite(default_cycle):
        default_cycle = 30.0
    return {
        "product_repeat": product_repeat.astype(float),
        "global_repeat": global_repeat,
        "category_cycle": cycles.astype(float),
        "default_cycle": default_cycle,
    }


def _logit(p: pd.Series | np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def design_matrix(cp: pd.DataFrame, priors: dict[str, Any]) -> pd.DataFrame:
    """All model features for the candidate rows of `customer_product_features`."""
    d = pd.DataFrame(index=cp.index)
    d["log_n"] = np.log1p(cp["n_purchases"].to_numpy(dtype=float))
    d["freq"] = cp["freq"].to_numpy(dtype=float)
    d["dec_fast"] = cp["dec_fast"].to_numpy(dtype=float)
    d["dec_slow"] = cp["dec_slow"].to_numpy(dtype=float)
    d["last_basket"] = (cp["last_rev"] == 0).to_numpy(dtype=float)
    d["log_rev"] = np.log1p(cp["last_rev"].to_numpy(dtype=float))
    d["log_n_baskets"] = np.log(cp["n_baskets"].to_numpy(dtype=float))
    repeat = cp["product_id"].map(priors["product_repeat"]).fillna(priors["global_repeat"])
    d["prod_repeat"] = _logit(repeat)

    lr = np.log(np.clip(cp["ratio"].to_numpy(dtype=float), 1 / 32, 32))
    d["log_ratio"] = lr
    # Hinges make the hazard's shape free: rising towards "due" (ratio 1), then flattening
    # or falling once long overdue (the shopper stopped buying it).
    d["hinge_lo"] = np.maximum(lr + 1.0, 0.0)
    d["hinge_due"] = np.maximum(lr, 0.0)
    d["hinge_hi"] = np.maximum(lr - 1.0, 0.0)
    d["log_interval"] = np.log(cp["interval_days"].to_numpy(dtype=float))
    d["log_since"] = np.log1p(cp["days_since_last"].to_numpy(dtype=float))
    # A regular product (low spread of gaps) that is due is a surer bet than an erratic one.
    closeness = np.exp(-np.abs(lr))
    d["regular_due"] = closeness / (1.0 + cp["gap_cv"].to_numpy(dtype=float))
    cycle = cp["category_id"].map(priors["category_cycle"]).astype(float)
    cycle = cycle.fillna(priors["default_cycle"]).clip(lower=1.0).to_numpy()
    at_trip = cp["days_since_last"].to_numpy(dtype=float) + cp["days_to_trip"].to_numpy(dtype=float)
    d["cat_ratio"] = np.log(np.clip(at_trip / cycle, 1 / 32, 32))
    d["log_trip_gap"] = np.log(cp["median_trip_gap"].to_numpy(dtype=float))
    d["cat_freq"] = cp["cat_freq"].to_numpy(dtype=float)
    d["cat_dec"] = cp["cat_dec_slow"].to_numpy(dtype=float)
    d["share_in_cat"] = cp["share_in_cat"].to_numpy(dtype=float)
    # The shopper's own cadence for the category (any product in it), same hinge shape.
    cat_lr = np.log(np.clip(cp["cat_own_ratio"].to_numpy(dtype=float), 1 / 32, 32))
    d["cat_lr"] = cat_lr
    d["cat_due"] = np.maximum(cat_lr, 0.0)
    d["cat_lo"] = np.maximum(cat_lr + 1.0, 0.0)
    d["log_cat_interval"] = np.log(cp["cat_interval_days"].to_numpy(dtype=float))
    return d


def _prepare(history: pd.DataFrame) -> pd.DataFrame:
    """Normalise dtypes once: ids as int, NA categories as -1, quantity as float."""
    h = history[HISTORY_COLUMNS].copy()
    for column in ("category_id", "department_id"):
        h[column] = pd.to_numeric(h[column], errors="coerce").fillna(-1).astype("int64")
    h["quantity"] = pd.to_numeric(h["quantity"], errors="coerce").fillna(1.0).astype(float)
    return h


# --------------------------------------------------------------------------- fitting


def training_examples(
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    customer_ids: Iterable[int] | None = None,
    n_cutoffs: int = TRAIN_CUTOFFS,
    step_days: int = TRAIN_STEP_DAYS,
    customers_per_cutoff: int | None = TRAIN_CUSTOMERS_PER_CUTOFF,
    seed: int = 0,
) -> pd.DataFrame:
    """Replay cutoffs before `as_of`: features at each cutoff, label = in the next basket.

    Labels only come from baskets before `as_of`, so a model fitted "as of" a date never
    sees anything after it. Returns the candidate rows with `label` and `cutoff`.
    """
    h = history_before(_prepare(history), as_of)
    if customer_ids is not None:
        h = h[h["customer_id"].isin(set(customer_ids))]
    rng = np.random.default_rng(seed)
    frames = []
    for j in range(1, n_cutoffs + 1):
        cutoff = as_of - pd.Timedelta(days=step_days * j)
        labels = next_basket_labels(h, cutoff, before=as_of)
        if labels.empty:
            continue
        past = history_before(h, cutoff)
        counts = past.groupby("customer_id")["order_id"].nunique()
        eligible = counts.index[counts >= NEW_SHOPPER_BASKETS].intersection(
            labels["customer_id"].unique()
        )
        if len(eligible) == 0:
            continue
        if customers_per_cutoff is not None and len(eligible) > customers_per_cutoff:
            eligible = pd.Index(
                rng.choice(eligible.to_numpy(), customers_per_cutoff, replace=False)
            )
        past = past[past["customer_id"].isin(eligible)]
        cp = customer_product_features(past, cutoff)
        bought = labels[labels["customer_id"].isin(eligible)][["customer_id", "product_id"]]
        cp = cp.merge(bought.assign(label=1), on=["customer_id", "product_id"], how="left")
        cp["label"] = cp["label"].fillna(0).astype(int)
        cp["cutoff"] = cutoff
        frames.append(cp)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def fit_model(
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    train_customer_ids: Iterable[int] | None = None,
    features: list[str] | None = None,
    n_cutoffs: int = TRAIN_CUTOFFS,
    customers_per_cutoff: int | None = TRAIN_CUSTOMERS_PER_CUTOFF,
    seed: int = 0,
    examples: pd.DataFrame | None = None,
) -> FittedModel:
    """Fit the repurchase GLM on the given shoppers' history before `as_of`.

    Only `train_customer_ids` (all shoppers in `history` when None) contribute to the
    coefficients, the priors and the popular list: the caller passes the shoppers who
    granted `model_improvement`. `features` lets the evaluation fit ablations, and
    `examples` (from `training_examples` on the same shoppers) saves rebuilding them.
    """
    import statsmodels.api as sm

    h = history_before(_prepare(history), as_of)
    if train_customer_ids is not None:
        h = h[h["customer_id"].isin(set(train_customer_ids))]
    features = list(features or ALL_FEATURES)
    priors = _priors(h, as_of)
    popular = popular_products(h, as_of, contributor_customer_ids=h["customer_id"].unique())
    if examples is None:
        examples = training_examples(
            h, as_of, n_cutoffs=n_cutoffs, customers_per_cutoff=customers_per_cutoff, seed=seed
        )
    n_customers = int(h["customer_id"].nunique())
    if examples.empty or examples["label"].nunique() < 2:
        # Too little data for a fit: an intercept-only model at the base rate, so
        # predictions are honest about knowing nothing beyond frequency.
        rate = float(examples["label"].mean()) if not examples.empty else 0.05
        return FittedModel(
            features=["freq"],
            params=np.array([float(_logit(rate * 0.5)), 1.0]),
            mean=np.zeros(1),
            scale=np.ones(1),
            as_of=as_of,
            popular=popular,
            n_customers=n_customers,
            n_examples=len(examples),
            summary={"note": "too little history to fit; frequency fallback"},
            **priors,
        )
    y = examples["label"].to_numpy(dtype=float)
    rate = NEGATIVE_SAMPLE_RATE if len(y) > SAMPLE_ABOVE_EXAMPLES else 1.0
    rng = np.random.default_rng(seed)
    sampled = (y == 1) | (rng.random(len(y)) < rate)
    examples = examples[sampled]
    design = design_matrix(examples, priors)[features]
    x = design.to_numpy(dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # A feature constant in the sample carries no information: coefficient 0, not a
    # singular Hessian.
    active = scale > 1e-9
    scale[~active] = 1.0
    xs = sm.add_constant(((x - mean) / scale)[:, active], has_constant="add")
    y = examples["label"].to_numpy(dtype=float)
    fitted_params = np.full(active.sum() + 1, np.nan)
    bse = np.full(len(features) + 1, np.nan)
    try:
        result = sm.Logit(y, xs).fit(disp=0, maxiter=100)
        fitted_params = np.asarray(result.params, dtype=float)
        bse[np.r_[True, active]] = np.asarray(result.bse, dtype=float)
    except (np.linalg.LinAlgError, ValueError):
        pass
    if not np.all(np.isfinite(fitted_params)):
        # Separable or collinear (small samples): a light ridge penalty keeps it finite.
        glm = sm.GLM(y, xs, family=sm.families.Binomial())
        fitted_params = np.asarray(glm.fit_regularized(alpha=1e-3, L1_wt=0.0).params, dtype=float)
    params = np.zeros(len(features) + 1)
    params[np.r_[True, active]] = fitted_params
    # Undo the case-control sampling: it inflated the odds of every row by 1/rate.
    params[0] += np.log(rate)
    names = ["const", *features]
    summary = {
        "coefficients": {n: round(float(p), 4) for n, p in zip(names, params, strict=True)},
        "std_errors": {n: round(float(s), 4) for n, s in zip(names, bse, strict=True)},
        "n_examples": int(sampled.size),
        "n_examples_fitted": len(examples),
        "cutoffs": sorted({str(c.date()) for c in examples["cutoff"]}),
    }
    return FittedModel(
        features=features,
        params=params,
        mean=mean,
        scale=scale,
        as_of=as_of,
        popular=popular,
        n_customers=n_customers,
        n_examples=int(sampled.size),
        summary=summary,
        **priors,
    )


# --------------------------------------------------------------------------- prediction


def predict_next_trip(history: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per shopper: next_trip_at, typical_basket_size (median distinct products), gaps in days."""
    h = history_before(_prepare(history), as_of)
    baskets = basket_table(h)
    return _next_trips(baskets, customer_rhythm(baskets, as_of))


def _next_trips(baskets: pd.DataFrame, rhythm: pd.DataFrame) -> pd.DataFrame:
    if rhythm.empty:
        return pd.DataFrame(
            columns=["customer_id", "next_trip_at", "typical_basket_size", "mean_gap_days"]
        )
    b = baskets.sort_values(["customer_id", "placed_at"], kind="mergesort")
    gaps = (b.groupby("customer_id")["placed_at"].diff() / DAY).groupby(b["customer_id"]).mean()
    out = rhythm[["customer_id", "next_trip_at", "typical_basket_size", "median_gap_days"]].copy()
    out["mean_gap_days"] = out["customer_id"].map(gaps).fillna(out["median_gap_days"])
    return out.reset_index(drop=True)


def popular_products(
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    contributor_customer_ids: Iterable[int],
    top_n: int = 20,
) -> pd.DataFrame:
    """The products in the largest share of contributors' recent baskets: product_id, score.

    `score` is that share (0..1): an honest chance that a basket holds it, not a personal
    forecast. Recent = the last POPULAR_WINDOW_DAYS before `as_of`.
    """
    h = history_before(history, as_of)
    h = h[h["customer_id"].isin(set(contributor_customer_ids))]
    h = h[h["placed_at"] >= as_of - pd.Timedelta(days=POPULAR_WINDOW_DAYS)]
    n_baskets = h["order_id"].nunique()
    if n_baskets == 0:
        return pd.DataFrame(
            {"product_id": pd.Series(dtype="int64"), "score": pd.Series(dtype=float)}
        )
    counts = h.groupby("product_id")["order_id"].nunique()
    # Ties by product id so the list is stable between runs.
    top = (
        counts.rename("n")
        .reset_index()
        .sort_values(["n", "product_id"], ascending=[False, True])
        .head(top_n)
    )
    return pd.DataFrame(
        {
            "product_id": top["product_id"].astype("int64").to_numpy(),
            "score": (top["n"] / n_baskets).to_numpy(),
        }
    )


def _apply_adjustments(
    cp: pd.DataFrame, adjustments: pd.DataFrame | None, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, pd.Series]:
    """Shopper decisions → (candidates with stretched cadences, probability factor per row).

    never: gone for good. snooze: gone until `until`, then back no earlier than `until`.
    still_have (after the last purchase): that product's interval × STILL_HAVE_STRETCH and
    its expected date no earlier than one interval after the decision. not_this_time and
    ticked (after the shopper's last shop): lower probability for this trip only.
    """
    factor = pd.Series(1.0, index=cp.index)
    cp = cp.assign(not_before=pd.Series(pd.NaT, index=cp.index, dtype=cp["last_bought"].dtype))
    if adjustments is None or adjustments.empty or cp.empty:
        return cp, factor
    adj = adjustments[adjustments["at"] < as_of]
    if adj.empty:
        return cp, factor
    key = pd.MultiIndex.from_frame(cp[["customer_id", "product_id"]])
    keep = pd.Series(True, index=cp.index)

    def _rows(action: str) -> pd.DataFrame:
        return adj[adj["action"] == action]

    never = _rows("never")
    if not never.empty:
        blocked = pd.MultiIndex.from_frame(never[["customer_id", "product_id"]])
        keep &= ~key.isin(blocked)

    snooze = _rows("snooze")
    snooze = snooze[snooze["until"].notna()]
    if not snooze.empty:
        until = snooze.groupby(["customer_id", "product_id"])["until"].max()
        u = pd.Series(until.reindex(key).to_numpy(), index=cp.index)
        keep &= ~(u > as_of)
        cp["not_before"] = cp["not_before"].where(~(u.notna()), u)

    still = _rows("still_have")
    if not still.empty:
        at = pd.Series(
            still.groupby(["customer_id", "product_id"])["at"].max().reindex(key).to_numpy(),
            index=cp.index,
        )
        active = at.notna() & (at > cp["last_bought"])
        cp.loc[active, "interval_days"] = cp.loc[active, "interval_days"] * STILL_HAVE_STRETCH
        pushed = at + pd.to_timedelta(cp["interval_days"], unit="D")
        later = active & (cp["not_before"].isna() | (pushed > cp["not_before"]))
        cp.loc[later, "not_before"] = pushed[later]
        cp["ratio"] = (cp["days_since_last"] + cp["days_to_trip"]) / cp["interval_days"]
        # Stretch the ratio from the decision onwards too: "I still have some" on day 20
        # of a 14-day cadence says the cycle restarted then.
        since_decision = ((as_of - at) / DAY) + cp["days_to_trip"]
        restarted = (since_decision / cp["interval_days"]).where(active)
        cp["ratio"] = np.where(active, np.minimum(cp["ratio"], restarted), cp["ratio"])

    last_trip = cp.groupby("customer_id")["last_bought"].transform("max")
    for action, value in (("not_this_time", NOT_THIS_TIME_FACTOR), ("ticked", TICKED_FACTOR)):
        rows = _rows(action)
        if rows.empty:
            continue
        at = pd.Series(
            rows.groupby(["customer_id", "product_id"])["at"].max().reindex(key).to_numpy(),
            index=cp.index,
        )
        factor = factor.where(~(at.notna() & (at > last_trip)), factor * value)
    return cp[keep], factor[keep]


def predict(
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    model: FittedModel | None,
    *,
    customer_ids: Iterable[int] | None = None,
    adjustments: pd.DataFrame | None = None,
    top_k: int | None = None,
) -> pd.DataFrame:
    """Ranked forecasts per shopper: one row per (customer_id, product_id), see OUTPUT_COLUMNS.

    Personal rows for everything the shopper bought before `as_of`, scored by the model
    (or, without one, by their recency-weighted frequency); new shoppers (fewer than
    NEW_SHOPPER_BASKETS baskets, or none) also get the model's popular products, labelled
    "popular", ranked after their own.
    """
    h, wanted, baskets, rhythm = _basis(history, as_of, customer_ids)
    return _predict(h, as_of, model, wanted, baskets, rhythm, adjustments, top_k)


def predict_with_trips(
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    model: FittedModel | None,
    *,
    customer_ids: Iterable[int] | None = None,
    adjustments: pd.DataFrame | None = None,
    top_k: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`predict` and `predict_next_trip` of the same shoppers, their baskets computed once.

    The trips are those of `customer_ids` only (of everyone in `history` without it); with
    a history of exactly those shoppers, equal to `predict_next_trip(history, as_of)`.
    """
    h, wanted, baskets, rhythm = _basis(history, as_of, customer_ids)
    predictions = _predict(h, as_of, model, wanted, baskets, rhythm, adjustments, top_k)
    return predictions, _next_trips(baskets, rhythm)


def _basis(
    history: pd.DataFrame, as_of: pd.Timestamp, customer_ids: Iterable[int] | None
) -> tuple[pd.DataFrame, list[int] | None, pd.DataFrame, pd.DataFrame]:
    """(history before as_of of the wanted shoppers, their ids, baskets, rhythm)."""
    h = history_before(_prepare(history), as_of)
    wanted = None if customer_ids is None else [int(c) for c in customer_ids]
    if wanted is not None:
        h = h[h["customer_id"].isin(set(wanted))]
    baskets = basket_table(h)
    return h, wanted, baskets, customer_rhythm(baskets, as_of)


def _predict(
    h: pd.DataFrame,
    as_of: pd.Timestamp,
    model: FittedModel | None,
    wanted: list[int] | None,
    baskets: pd.DataFrame,
    rhythm: pd.DataFrame,
    adjustments: pd.DataFrame | None,
    top_k: int | None,
) -> pd.DataFrame:
    cp = customer_product_features(h, as_of, baskets=baskets, rhythm=rhythm)
    frames = []
    if not cp.empty:
        cp, factor = _apply_adjustments(cp, adjustments, as_of)
        if model is not None:
            priors = {
                "product_repeat": model.product_repeat,
                "global_repeat": model.global_repeat,
                "category_cycle": model.category_cycle,
                "default_cycle": model.default_cycle,
            }
            probability = model.score(design_matrix(cp, priors))
        else:
            probability = cp["dec_slow"].to_numpy(dtype=float)
        expected = cp["last_bought"] + pd.to_timedelta(cp["interval_days"], unit="D")
        # Overdue products are needed now: on the next trip, not on a date already past.
        next_trip = as_of + pd.to_timedelta(cp["days_to_trip"], unit="D")
        expected = expected.where(expected >= next_trip, next_trip)
        expected = expected.where(
            cp["not_before"].isna() | (expected >= cp["not_before"]), cp["not_before"]
        )
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": cp["customer_id"].to_numpy(),
                    "product_id": cp["product_id"].to_numpy(),
                    "probability": np.clip(probability * factor.to_numpy(), 0.0, 1.0),
                    "expected_quantity": cp["expected_quantity"]
                    .fillna(1.0)
                    .clip(lower=0.0)
                    .to_numpy(),
                    "expected_date": expected.to_numpy(),
                    "n_purchases": cp["n_purchases"].astype(int).to_numpy(),
                    "first_bought": cp["first_bought"].to_numpy(),
                    "last_bought": cp["last_bought"].to_numpy(),
                    "interval_days": cp["interval_days"].to_numpy(dtype=float),
                    "source": "personal",
                    "order": 0,
                }
            )
        )
    frames.append(_popular_rows(model, rhythm, wanted, adjustments, as_of))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty_predictions()
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(
        ["customer_id", "order", "probability", "product_id"],
        ascending=[True, True, False, True],
        kind="mergesort",
    ).drop_duplicates(["customer_id", "product_id"])
    out["rank"] = out.groupby("customer_id").cumcount() + 1
    if top_k is not None:
        out = out[out["rank"] <= top_k]
    for column in ("expected_date", "first_bought", "last_bought"):
        out[column] = pd.to_datetime(out[column], utc=True)
    return out[OUTPUT_COLUMNS].reset_index(drop=True)


def _popular_rows(
    model: FittedModel | None,
    rhythm: pd.DataFrame,
    wanted: list[int] | None,
    adjustments: pd.DataFrame | None,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Popular products for new shoppers, excluding what they said never (or snoozed)."""
    if model is None or model.popular is None or model.popular.empty:
        return pd.DataFrame()
    counts = rhythm.set_index("customer_id")["n_baskets"] if not rhythm.empty else pd.Series()
    new = [int(c) for c, n in counts.items() if n < NEW_SHOPPER_BASKETS]
    if wanted is not None:
        new += [c for c in wanted if c not in counts.index]
    if not new:
        return pd.DataFrame()
    pop = model.popular
    rows = pd.DataFrame(
        {
            "customer_id": np.repeat(np.array(new, dtype="int64"), len(pop)),
            "product_id": np.tile(pop["product_id"].to_numpy(dtype="int64"), len(new)),
            "probability": np.tile(pop["score"].to_numpy(dtype=float), len(new)),
        }
    )
    if adjustments is not None and not adjustments.empty:
        adj = adjustments[adjustments["at"] < as_of]
        blocked = adj[
            (adj["action"] == "never") | ((adj["action"] == "snooze") & (adj["until"] > as_of))
        ]
        if not blocked.empty:
            key = pd.MultiIndex.from_frame(rows[["customer_id", "product_id"]])
            rows = rows[~key.isin(pd.MultiIndex.from_frame(blocked[["customer_id", "product_id"]]))]
    return rows.assign(
        expected_quantity=1.0,
        expected_date=pd.NaT,
        n_purchases=0,
        first_bought=pd.NaT,
        last_bought=pd.NaT,
        interval_days=np.nan,
        source="popular",
        order=1,
    )


def _empty_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="int64"),
            "product_id": pd.Series(dtype="int64"),
            "probability": pd.Series(dtype=float),
            "expected_quantity": pd.Series(dtype=float),
            "expected_date": pd.Series(dtype="datetime64[ns, UTC]"),
            "n_purchases": pd.Series(dtype="int64"),
            "first_bought": pd.Series(dtype="datetime64[ns, UTC]"),
            "last_bought": pd.Series(dtype="datetime64[ns, UTC]"),
            "interval_days": pd.Series(dtype=float),
            "source": pd.Series(dtype=object),
            "rank": pd.Series(dtype="int64"),
        }
    )
