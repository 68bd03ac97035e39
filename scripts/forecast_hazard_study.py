"""Validation study, third round: cross-shopper hazards, trip context, shapes, objectives.

Research script, not product code; it never touches test baskets. Each cutoff given is a
validation cutoff with targets bounded by cutoff + 28 days (2017-08-04 + 28 = the first
test cutoff). Training rows replay 6 weekly cutoffs before it (every eligible shopper,
labels before the cutoff); negatives are sampled at 10% for the fit (statsmodels Logit,
or a Binomial GLM with a fractional response). Reference rows: the shipped model as
`fit_model` fits it, and TIFU-KNN with `TIFU_DEFAULT`.

Variants, on top of the model's own features (`design_matrix`):

- hazard: among training shoppers, P(product in the next basket | days since its last
  purchase at the next trip, in 12 buckets), per product, shrunk towards the category's
  curve and that towards the global curve (empirical Bayes, pseudo-counts 20 and 50).
  Rows of one half of the shoppers get the table built from the other half (no row sees
  its own label); the validation shoppers get the table of all training rows. Also the
  product's level alone (no day buckets), to tell timing from level apart, and with
  `--count-buckets` curves also by the shopper's purchase count (1, 2-3, 4+);
- weekday: the share of the shopper's baskets on the next trip's weekday (and day type)
  holding the product, against its overall share (smoothed);
- basket context: share of basket weight with baskets weighted 1/size (Recall rewards
  hits in small baskets), and the share among baskets whose preceding gap resembles the
  coming one (kernel in log days);
- splines: truncated-linear bases at quantile knots of the strongest features, and
  timing × "bought at least 3 times" / × log purchase count;
- shopper style: the shopper's repeat share and number of products × product features;
- objective: a fractional response y / target size ("frac", what Recall@10 averages) or
  y / min(target size, 10) ("frac10", NDCG@10's ideal-DCG normalisation);
- training windows: every training cutoff given the same 28 days to return ("uniform"),
  instead of the replay's censoring of slow returners at recent cutoffs;
- promo: the retailer's promotions (completejourney's promotions.parquet, which Kvitto does
  not receive): whether the product is in the weekly mailer / on display in the shopper's
  usual store (the store of most of its lines before the cutoff) in the cutoff's week, and
  each x log purchase count. Every row uses its own cutoff's week: training rows the week
  of their training cutoff, validation rows the validation cutoff's week. Also the same
  flags in the week of the shopper's expected next trip (the model's own days_to_trip).

    .venv/bin/python scripts/forecast_hazard_study.py 2017-08-04 2017-07-15
    .venv/bin/python scripts/forecast_hazard_study.py 2017-08-04 --count-buckets --only=hazard
    .venv/bin/python scripts/forecast_hazard_study.py 2017-08-04 2017-07-15 \
        '--only=promo,ALL_FEATURES,frac10: ALL + splines'
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
from insights.forecasts.features import (  # noqa: E402
    basket_table,
    customer_product_features,
    customer_rhythm,
    history_before,
    next_basket_labels,
)

NEGATIVE_RATE = 0.1
DAY_EDGES = np.array([4, 8, 12, 16, 22, 29, 43, 57, 85, 120, 180])
PRODUCT_STRENGTH = 20.0
CATEGORY_STRENGTH = 50.0
WANTED = None  # substrings of variant names to run (None: all)
HOUSEHOLDS = None
WINDOW = pd.Timedelta(days=28)
COUNT_BUCKETS = False  # validation households scored (None: all)
PROMO: dict = {}  # order_id -> store_id, date -> week, promotions by week (main fills it)


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-5, 1 - 1e-5)
    return np.log(p / (1 - p))


def at_trip_bucket(c: pd.DataFrame) -> np.ndarray:
    days = c["days_since_last"].to_numpy(float) + c["days_to_trip"].to_numpy(float)
    b = np.digitize(days, DAY_EDGES)
    if COUNT_BUCKETS:
        # The curve also by the shopper's purchase count of it: 1, 2-3, 4+.
        n = np.digitize(c["n_purchases"].to_numpy(float), [2, 4])
        b = b + 100 * n
    return b


def hazard_table(rows: pd.DataFrame) -> dict:
    """Shrunk next-basket rates by (product, bucket), (category, bucket), bucket; product level."""
    r = pd.DataFrame(
        {
            "p": rows["product_id"].to_numpy(),
            "c": rows["category_id"].to_numpy(),
            "b": at_trip_bucket(rows),
            "y": rows["label"].to_numpy(float),
        }
    )
    g = r.groupby("b")["y"].agg(["sum", "count"])
    glob = g["sum"] / g["count"]
    gc = r.groupby(["c", "b"])["y"].agg(["sum", "count"]).reset_index()
    gc["prior"] = gc["b"].map(glob)
    gc["rate"] = (gc["sum"] + CATEGORY_STRENGTH * gc["prior"]) / (gc["count"] + CATEGORY_STRENGTH)
    gp = r.groupby(["p", "c", "b"])["y"].agg(["sum", "count"]).reset_index()
    gp = gp.merge(gc[["c", "b", "rate"]].rename(columns={"rate": "prior"}), on=["c", "b"])
    gp["rate"] = (gp["sum"] + PRODUCT_STRENGTH * gp["prior"]) / (gp["count"] + PRODUCT_STRENGTH)
    # The product's level regardless of timing, shrunk towards its category's level.
    all_rate = r["y"].mean()
    lc = r.groupby("c")["y"].agg(["sum", "count"])
    lc_rate = (lc["sum"] + CATEGORY_STRENGTH * all_rate) / (lc["count"] + CATEGORY_STRENGTH)
    lp = r.groupby(["p", "c"])["y"].agg(["sum", "count"]).reset_index()
    lp["prior"] = lp["c"].map(lc_rate)
    lp["rate"] = (lp["sum"] + PRODUCT_STRENGTH * lp["prior"]) / (lp["count"] + PRODUCT_STRENGTH)
    return {
        "glob": glob,
        "cat": gc.set_index(["c", "b"])["rate"],
        "prod": gp.set_index(["p", "b"])["rate"],
        "level_all": all_rate,
        "level_cat": lc_rate,
        "level_prod": lp.set_index("p")["rate"],
    }


def hazard_features(c: pd.DataFrame, t: dict) -> pd.DataFrame:
    b = at_trip_bucket(c)
    p, cat = c["product_id"].to_numpy(), c["category_id"].to_numpy()
    glob = pd.Series(b).map(t["glob"]).fillna(t["level_all"]).to_numpy()
    cr = t["cat"].reindex(pd.MultiIndex.from_arrays([cat, b])).to_numpy()
    cr = np.where(np.isnan(cr), glob, cr)
    pr = t["prod"].reindex(pd.MultiIndex.from_arrays([p, b])).to_numpy()
    pr = np.where(np.isnan(pr), cr, pr)
    lvl_c = pd.Series(cat).map(t["level_cat"]).fillna(t["level_all"]).to_numpy()
    lvl = pd.Series(p).map(t["level_prod"]).to_numpy()
    lvl = np.where(np.isnan(lvl), lvl_c, lvl)
    out = pd.DataFrame(index=c.index)
    out["hz_prod"] = _logit(pr)
    out["hz_cat"] = _logit(cr)
    out["hz_glob"] = _logit(glob)
    # Timing part alone: the product's curve at this bucket against its own level.
    out["hz_rel"] = _logit(pr) - _logit(lvl)
    out["lvl_prod"] = _logit(lvl)
    return out


def weekday_features(h: pd.DataFrame, c: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Share of the shopper's baskets on the next trip's weekday (and day type) holding it."""
    baskets = basket_table(h)
    rhythm = customer_rhythm(baskets, as_of).set_index("customer_id")
    nwd = rhythm["next_trip_at"].dt.day_of_week
    baskets["wd"] = baskets["placed_at"].dt.day_of_week
    baskets["same_wd"] = baskets["wd"].to_numpy() == baskets["customer_id"].map(nwd).to_numpy()
    weekend = baskets["wd"] >= 5
    baskets["same_type"] = weekend.to_numpy() == (baskets["customer_id"].map(nwd) >= 5).to_numpy()
    n_wd = baskets.groupby("customer_id")["same_wd"].sum()
    n_type = baskets.groupby("customer_id")["same_type"].sum()
    lines = h[["customer_id", "order_id", "product_id"]].drop_duplicates()
    lines = lines.merge(baskets[["order_id", "same_wd", "same_type"]], on="order_id")
    per = lines.groupby(["customer_id", "product_id"])[["same_wd", "same_type"]].sum()
    per = per.reindex(pd.MultiIndex.from_frame(c[["customer_id", "product_id"]])).fillna(0)
    freq = c["freq"].to_numpy(float)
    a = 2.0
    cust = c["customer_id"]
    wd_share = (per["same_wd"].to_numpy() + a * freq) / (cust.map(n_wd).to_numpy(float) + a)
    ty_share = (per["same_type"].to_numpy() + a * freq) / (cust.map(n_type).to_numpy(float) + a)
    out = pd.DataFrame(index=c.index)
    out["wd_lift"] = np.log((wd_share + 1e-3) / (freq + 1e-3))
    out["type_lift"] = np.log((ty_share + 1e-3) / (freq + 1e-3))
    return out


def basket_context_features(h: pd.DataFrame, c: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Small-basket frequency and the frequency in baskets after a gap like the coming one.

    inv_freq: share of the shopper's basket weight holding the product, each basket weighted
    by 1 / its number of products (what Recall rewards: a hit in a small basket counts more).
    gap_lift: log of the share of baskets whose preceding gap (days since the trip before)
    is close to the coming trip's gap (days since the last trip + days until the next),
    kernel-weighted in log days, that hold the product, against its overall share.
    """
    baskets = basket_table(h)
    rhythm = customer_rhythm(baskets, as_of).set_index("customer_id")
    baskets = baskets.sort_values(["customer_id", "placed_at"], kind="mergesort")
    prev_gap = baskets.groupby("customer_id")["placed_at"].diff() / pd.Timedelta(days=1)
    coming = ((rhythm["next_trip_at"] - rhythm["last_trip"]) / pd.Timedelta(days=1)).clip(lower=0)
    g_next = baskets["customer_id"].map(coming).to_numpy(float)
    z = (np.log(prev_gap.to_numpy(float) + 0.5) - np.log(g_next + 0.5)) / 0.5
    kern = np.where(np.isnan(z), 0.0, np.exp(-0.5 * z * z))
    baskets = baskets.assign(inv=1.0 / baskets["n_products"].clip(lower=1), kern=kern)
    tot = baskets.groupby("customer_id")[["inv", "kern"]].sum()
    lines = h[["customer_id", "order_id", "product_id"]].drop_duplicates()
    lines = lines.merge(baskets[["order_id", "inv", "kern"]], on="order_id")
    per = lines.groupby(["customer_id", "product_id"])[["inv", "kern"]].sum()
    per = per.reindex(pd.MultiIndex.from_frame(c[["customer_id", "product_id"]])).fillna(0)
    cust = c["customer_id"]
    freq = c["freq"].to_numpy(float)
    a = 2.0
    out = pd.DataFrame(index=c.index)
    out["inv_freq"] = per["inv"].to_numpy() / cust.map(tot["inv"]).to_numpy(float)
    gs = (per["kern"].to_numpy() + a * freq) / (cust.map(tot["kern"]).to_numpy(float) + a)
    out["gap_lift"] = np.log((gs + 1e-3) / (freq + 1e-3))
    out["gap_share"] = gs
    return out


def uniform_window_examples(history: pd.DataFrame, as_of: pd.Timestamp, n: int = 6) -> pd.DataFrame:
    """Training rows whose label windows all last WINDOW days (all before as_of).

    The model's own replay labels the cutoff one week before as_of only with shoppers who
    came back within that week (the rest are censored), so its recent rows over-represent
    quick returns; here every training cutoff gives the shopper the same 28 days to return,
    as the validation split does.
    """
    frames = []
    for j in range(n):
        cutoff = as_of - WINDOW - pd.Timedelta(days=7 * j)
        h = history_before(history, cutoff + WINDOW)
        labels = next_basket_labels(h, cutoff)
        past = history_before(h, cutoff)
        counts = past.groupby("customer_id")["order_id"].nunique()
        eligible = counts.index[counts >= 3].intersection(labels["customer_id"].unique())
        past = past[past["customer_id"].isin(eligible)]
        cp = customer_product_features(past, cutoff)
        bought = labels[["customer_id", "product_id"]].assign(label=1)
        cp = cp.merge(bought, on=["customer_id", "product_id"], how="left")
        cp["label"] = cp["label"].fillna(0).astype(int)
        cp["cutoff"] = cutoff
        frames.append(cp)
    return pd.concat(frames, ignore_index=True)


def load_promotions() -> dict:
    """Orders' stores, the calendar's weeks and the promotions flags (research data only)."""
    data = ev.complete_journey_dir()
    tx = pd.read_parquet(
        data / "transactions.parquet",
        columns=["basket_id", "store_id", "week", "transaction_timestamp"],
    )
    store = tx.groupby("basket_id")["store_id"].first()
    day = pd.to_datetime(tx["transaction_timestamp"]).dt.normalize()
    # A day's week: the week most of its transactions carry (weeks start on Monday).
    week = tx.groupby(day)["week"].agg(lambda w: w.value_counts().index[0])
    week.index = week.index.tz_localize("UTC")
    promo = pd.read_parquet(data / "promotions.parquet")
    mailer = (promo["mailer_location"] != "0").to_numpy()
    display = (promo["display_location"] != "0").to_numpy()
    any_ = mailer | display  # rows promoted neither way are the default (0, 0)
    promo = pd.DataFrame(
        {
            "week": promo["week"].to_numpy()[any_],
            "store_id": promo["store_id"].to_numpy()[any_],
            "product_id": promo["product_id"].to_numpy()[any_],
            "promo_mailer": mailer[any_].astype(float),
            "promo_display": display[any_].astype(float),
        }
    )
    promo = promo.groupby(["week", "store_id", "product_id"])[
        ["promo_mailer", "promo_display"]
    ].max()
    return {"store": store, "week": week, "promo": promo}


def promotion_features(
    h: pd.DataFrame, c: pd.DataFrame, d: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """In the mailer / on display at the shopper's usual store in as_of's week; x log count."""
    lines = h[["customer_id", "order_id"]].assign(store_id=h["order_id"].map(PROMO["store"]))
    n = lines.groupby(["customer_id", "store_id"]).size().rename("n").reset_index()
    n = n.sort_values(["customer_id", "n", "store_id"], ascending=[True, False, True])
    usual = n.drop_duplicates("customer_id").set_index("customer_id")["store_id"]
    week = int(PROMO["week"].loc[as_of.normalize()])
    flags = PROMO["promo"].xs(week, level="week")
    idx = pd.MultiIndex.from_arrays(
        [c["customer_id"].map(usual).to_numpy(), c["product_id"].to_numpy()]
    )
    f = flags.reindex(idx).fillna(0.0).to_numpy()
    logn = d["log_n"].to_numpy(float)
    out = pd.DataFrame(index=c.index)
    out["promo_mailer"] = f[:, 0]
    out["promo_display"] = f[:, 1]
    out["promo_mailer_x_logn"] = f[:, 0] * logn
    out["promo_display_x_logn"] = f[:, 1] * logn
    # The same in the week of the shopper's expected next trip (as_of + days to the trip).
    trip = (as_of + pd.to_timedelta(c["days_to_trip"].to_numpy(float), unit="D")).normalize()
    days = PROMO["week"].index
    at = np.clip(days.searchsorted(trip, side="right") - 1, 0, len(days) - 1)
    weeks = PROMO["week"].to_numpy()[at]
    idx = pd.MultiIndex.from_arrays([weeks, idx.get_level_values(0), idx.get_level_values(1)])
    f = PROMO["promo"].reindex(idx).fillna(0.0).to_numpy()
    out["trip_mailer"] = f[:, 0]
    out["trip_display"] = f[:, 1]
    out["trip_mailer_x_logn"] = f[:, 0] * logn
    out["trip_display_x_logn"] = f[:, 1] * logn
    return out


def shopper_interactions(c: pd.DataFrame, d: pd.DataFrame) -> pd.DataFrame:
    """Shopper-level style (routine vs explorer) times the product features that rank."""
    cust = c["customer_id"]
    # Share of the shopper's purchases that are repeats: n_purchases - 1 summed / purchases.
    n = c["n_purchases"].to_numpy(float)
    tot = pd.Series(n).groupby(cust.to_numpy()).transform("sum").to_numpy()
    rep = (pd.Series(n - 1).groupby(cust.to_numpy()).transform("sum").to_numpy()) / tot
    ncand = np.log(pd.Series(n).groupby(cust.to_numpy()).transform("size").to_numpy())
    out = pd.DataFrame(index=c.index)
    out["shop_rep"] = rep
    out["log_ncand"] = ncand
    for k in ("freq", "dec_fast", "dec_slow", "log_rev", "log_ratio", "hinge_due", "prod_repeat"):
        out[f"{k}_x_rep"] = d[k].to_numpy() * (rep - 0.5)
        out[f"{k}_x_ncand"] = d[k].to_numpy() * (ncand - 5.5)
    return out


def supply_features(h: pd.DataFrame, c: pd.DataFrame, d: pd.DataFrame) -> pd.DataFrame:
    """Inventory: the last purchase's quantity against the shopper's usual quantity of it.

    A double pack lasts twice as long: the ratio is re-expressed in days of supply,
    (days since at the next trip) / (interval x last quantity / median quantity).
    """
    q = h.groupby(["customer_id", "order_id", "product_id"], as_index=False)["quantity"].sum()
    q = q.merge(h.groupby("order_id")["placed_at"].min().rename("t").reset_index(), on="order_id")
    q = q.sort_values(["customer_id", "product_id", "t"], kind="mergesort")
    g = q.groupby(["customer_id", "product_id"])["quantity"]
    per = pd.DataFrame({"last": g.last(), "med": g.median()})
    per = per.reindex(pd.MultiIndex.from_frame(c[["customer_id", "product_id"]]))
    rel = (per["last"].clip(lower=0.5) / per["med"].clip(lower=0.5)).fillna(1.0).to_numpy()
    rel = np.clip(rel, 0.25, 8.0)
    out = pd.DataFrame(index=c.index)
    out["log_qty_rel"] = np.log(rel)
    lr = d["log_ratio"].to_numpy() - np.log(rel)
    out["supply_lr"] = lr
    out["supply_due"] = np.maximum(lr, 0.0)
    out["supply_lo"] = np.maximum(lr + 1.0, 0.0)
    return out


def decay_features(h: pd.DataFrame, c: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """More recency kernels: basket-order decays and calendar-day half-lives."""
    baskets = basket_table(h)
    age = ((as_of - baskets["placed_at"]) / pd.Timedelta(days=1)).to_numpy(float)
    rev = baskets["rev"].to_numpy(float)
    cols = {}
    for r in (0.5, 0.8, 0.95, 0.98):
        cols[f"bdec_{r}"] = r**rev
    for tau in (14, 45, 120):
        cols[f"tdec_{tau}"] = np.exp(-age / tau)
    w = pd.DataFrame(cols, index=baskets.index).assign(
        order_id=baskets["order_id"], customer_id=baskets["customer_id"]
    )
    names = list(cols)
    tot = w.groupby("customer_id")[names].sum()
    lines = h[["order_id", "product_id"]].drop_duplicates().merge(w, on="order_id")
    per = lines.groupby(["customer_id", "product_id"])[names].sum()
    per = per.reindex(pd.MultiIndex.from_frame(c[["customer_id", "product_id"]])).fillna(0)
    denom = tot.reindex(c["customer_id"].to_numpy()).to_numpy()
    out = pd.DataFrame(per.to_numpy() / np.maximum(denom, 1e-12), index=c.index, columns=names)
    return out


def target_sizes(history: pd.DataFrame, examples: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Per training row: the number of products in its label basket."""
    frames = []
    for c in sorted(examples["cutoff"].unique()):
        lab = next_basket_labels(history, c, before=as_of)
        frames.append(
            lab.groupby("customer_id").size().rename("size").reset_index().assign(cutoff=c)
        )
    sizes = pd.concat(frames)
    m = examples[["customer_id", "cutoff"]].merge(sizes, on=["customer_id", "cutoff"], how="left")
    return m["size"].fillna(1).to_numpy(float)


def spline_features(d: pd.DataFrame, knots: dict | None = None) -> tuple[pd.DataFrame, dict]:
    cols = ["freq", "dec_fast", "dec_slow", "log_rev", "log_ratio", "prod_repeat"]
    if knots is None:
        knots = {k: np.quantile(d[k], [0.5, 0.75, 0.9, 0.97]) for k in cols}
    out = pd.DataFrame(index=d.index)
    for k in cols:
        for j, q in enumerate(knots[k]):
            out[f"{k}_s{j}"] = np.maximum(d[k].to_numpy() - q, 0.0)
    rep = (d["log_n"].to_numpy() >= np.log(3)).astype(float)
    out["lr_x_rep"] = d["log_ratio"].to_numpy() * rep
    out["hd_x_rep"] = d["hinge_due"].to_numpy() * rep
    out["lr_x_logn"] = d["log_ratio"].to_numpy() * d["log_n"].to_numpy()
    return out, knots


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None):
    mu, sd = x.mean(0), x.std(0)
    active = sd > 1e-9
    sd[~active] = 1.0
    xs = sm.add_constant(((x - mu) / sd)[:, active], has_constant="add")
    if weights is not None:
        # Fractional response (y / target size), rows weighted: ranks by expected recall.
        glm = sm.GLM(y, xs, family=sm.families.Binomial(), freq_weights=weights)
        params = np.asarray(glm.fit(maxiter=100).params)
        return params, mu, sd, active
    try:
        params = np.asarray(sm.Logit(y, xs).fit(disp=0, maxiter=200).params)
    except np.linalg.LinAlgError:
        glm = sm.GLM(y, xs, family=sm.families.Binomial())
        params = np.asarray(glm.fit_regularized(alpha=1e-4, L1_wt=0.0).params)
    return params, mu, sd, active


def promo_coefficients(features: list[str], params: np.ndarray, active: np.ndarray) -> None:
    """The fitted coefficients (per standard deviation) of the promotion columns."""
    coef = dict(zip(np.asarray(features)[active], params[1:], strict=True))
    shown = {k: round(float(v), 3) for k, v in coef.items() if k.startswith(("promo_", "trip_"))}
    print(f"    promotion coefficients (per sd): {shown}", flush=True)


def metrics(cp: pd.DataFrame, score: np.ndarray, split: ev.Split) -> tuple[float, float]:
    r = ev.top_k_by(
        cp[["customer_id", "product_id"]].assign(s=score), ["s", "product_id"], [False, True], 20
    )
    m = ev.score_rankings(r, split)
    return m["recall@10"], m["ndcg@10"]


def validation_split(history: pd.DataFrame, cutoff: pd.Timestamp) -> ev.Split:
    """The validation cutoff's households and targets (bounded by cutoff + 28 days)."""
    split = ev.make_split(history, cutoff, before=cutoff + ev.VALIDATION_OFFSET)
    if HOUSEHOLDS and split.n > HOUSEHOLDS:
        keep = np.sort(np.random.default_rng(0).choice(split.customers, HOUSEHOLDS, replace=False))
        split = ev.Split(
            cutoff=cutoff,
            customers=keep,
            targets=split.targets[split.targets["customer_id"].isin(keep)],
            basket_size=split.basket_size,
        )
    return split


def reference_rows(
    history: pd.DataFrame, cutoff: pd.Timestamp, split: ev.Split
) -> dict[str, tuple[float, float]]:
    """Recall@10, NDCG@10 of the shipped model (as `fit_model` fits it) and TIFU_DEFAULT."""
    out: dict[str, tuple[float, float]] = {}
    fitted = fm.fit_model(history, cutoff)
    ranked = fm.predict(history, cutoff, fitted, customer_ids=split.customers, top_k=20)
    m = ev.score_rankings(ranked, split)
    out["shipped model (fit_model defaults)"] = (m["recall@10"], m["ndcg@10"])
    vectors = ev.tifu_vectors(
        history, cutoff, **{k: ev.TIFU_DEFAULT[k] for k in ("m", "r_b", "r_g")}
    )
    tifu = ev.tifu_knn_scores(
        vectors, split.customers, k=ev.TIFU_DEFAULT["k"], alpha=ev.TIFU_DEFAULT["alpha"]
    )
    m = ev.score_rankings(tifu, split)
    out["TIFU-KNN (TIFU_DEFAULT)"] = (m["recall@10"], m["ndcg@10"])
    return out


def study_frames(
    history: pd.DataFrame,
    cutoff: pd.Timestamp,
    split: ev.Split,
    negative_rate: float = NEGATIVE_RATE,
) -> dict:
    """Every feature of this study for the training rows and the validation candidates.

    Training rows: every eligible shopper at the model's 6 weekly cutoffs before `cutoff`,
    all positives and negatives kept with probability `negative_rate` (seeded). Returns
    ex (the kept rows, with label and cutoff), train and valid (feature frames), y, size
    (label basket sizes), cp (validation candidates), spl (spline columns) and rng.
    """
    past = history_before(history, cutoff)
    priors = fm._priors(past, cutoff)
    examples = fm.training_examples(history, cutoff, customers_per_cutoff=None)
    fold = (examples["customer_id"].to_numpy() * 2654435761 % 2**32) % 2
    table_all = hazard_table(examples)
    hz_parts = []
    for f in (0, 1):
        t = hazard_table(examples[fold != f])
        hz_parts.append(hazard_features(examples[fold == f], t))
    hz_train = pd.concat(hz_parts).reindex(examples.index)
    rng = np.random.default_rng(1)
    keep = (examples["label"] == 1).to_numpy() | (rng.random(len(examples)) < negative_rate)
    ex = examples[keep]
    hz_train = hz_train[keep]
    wd_train = pd.concat(
        [
            weekday_features(history_before(history, c), ex[ex["cutoff"] == c], c)
            for c in sorted(ex["cutoff"].unique())
        ]
    ).reindex(ex.index)
    bc_train = pd.concat(
        [
            basket_context_features(history_before(history, c), ex[ex["cutoff"] == c], c)
            for c in sorted(ex["cutoff"].unique())
        ]
    ).reindex(ex.index)
    size = target_sizes(history, ex, cutoff)
    d_train = fm.design_matrix(ex, priors)
    sp_train, knots = spline_features(d_train)
    su_train = pd.concat(
        [
            supply_features(
                history_before(history, c), ex[ex["cutoff"] == c], d_train[ex["cutoff"] == c]
            )
            for c in sorted(ex["cutoff"].unique())
        ]
    ).reindex(ex.index)
    de_train = pd.concat(
        [
            decay_features(history_before(history, c), ex[ex["cutoff"] == c], c)
            for c in sorted(ex["cutoff"].unique())
        ]
    ).reindex(ex.index)
    pr_train = pd.concat(
        [
            promotion_features(
                history_before(history, c), ex[ex["cutoff"] == c], d_train[ex["cutoff"] == c], c
            )
            for c in sorted(ex["cutoff"].unique())
        ]
    ).reindex(ex.index)
    train = pd.concat(
        [
            d_train,
            pr_train,
            hz_train,
            wd_train,
            sp_train,
            bc_train,
            shopper_interactions(ex, d_train),
            su_train,
            de_train,
        ],
        axis=1,
    )
    y = ex["label"].to_numpy(float)

    vpast = past[past["customer_id"].isin(set(split.customers))]
    cp = customer_product_features(vpast, cutoff)
    d_val = fm.design_matrix(cp, priors)
    valid = pd.concat(
        [
            d_val,
            promotion_features(vpast, cp, d_val, cutoff),
            hazard_features(cp, table_all),
            weekday_features(vpast, cp, cutoff),
            spline_features(d_val, knots)[0],
            basket_context_features(vpast, cp, cutoff),
            shopper_interactions(cp, d_val),
            supply_features(vpast, cp, d_val),
            decay_features(vpast, cp, cutoff),
        ],
        axis=1,
    )
    return {
        "ex": ex,
        "train": train,
        "y": y,
        "size": size,
        "cp": cp,
        "valid": valid,
        "spl": list(sp_train.columns),
        "pr_train": pr_train,
        "priors": priors,
        "rng": rng,
    }


def run_cutoff(history: pd.DataFrame, day: str, variants_wanted: list[str] | None) -> dict:
    started = time.monotonic()
    cutoff = pd.Timestamp(day, tz="UTC")
    split = validation_split(history, cutoff)
    out = reference_rows(history, cutoff, split)
    print(
        f"{day}: {split.n} households",
        {k: tuple(round(x, 4) for x in v) for k, v in out.items()},
        flush=True,
    )
    frames = study_frames(history, cutoff, split)
    ex, train, y, size = frames["ex"], frames["train"], frames["y"], frames["size"]
    cp, valid, pr_train, priors, rng = (
        frames[k] for k in ("cp", "valid", "pr_train", "priors", "rng")
    )
    print(
        f"  features built ({time.monotonic() - started:.0f} s), {len(ex)} rows fitted", flush=True
    )
    for part, frame in (("training", pr_train), ("validation", valid)):
        names = ("promo_mailer", "promo_display", "trip_mailer", "trip_display")
        shares = {k: round(float(frame[k].mean()), 4) for k in names}
        print(f"  promoted share of {part} rows: {shares}", flush=True)

    F, A = fm.FREQUENCY_FEATURES, fm.ALL_FEATURES
    hz = ["hz_prod", "hz_cat", "hz_glob"]
    spl = frames["spl"]
    variants = {
        "ALL_FEATURES, all shoppers": A,
        "FREQUENCY_FEATURES (no calendar time), all shoppers": F,
        "ALL + hazard (product/category/global by day bucket)": A + hz,
        "FREQUENCY + product level only (no day buckets)": F + ["lvl_prod"],
        "ALL + product level only": A + ["lvl_prod"],
        "FREQUENCY + hazard": F + hz,
        "ALL + hazard + level + hz_rel": A + hz + ["lvl_prod", "hz_rel"],
        "ALL + weekday lift": A + ["wd_lift", "type_lift"],
        "ALL + splines/interactions": A + spl,
        "ALL + hazard + weekday + splines": A + hz + ["wd_lift", "type_lift"] + spl,
        "FREQUENCY + level + splines (no calendar time)": F
        + ["lvl_prod"]
        + [s for s in spl if not s.startswith(("log_ratio", "lr_", "hd_"))],
    }
    bc = ["inv_freq", "gap_lift", "gap_share"]
    bdec = ["bdec_0.5", "bdec_0.8", "bdec_0.95", "bdec_0.98"]
    tdec = ["tdec_14", "tdec_45", "tdec_120"]
    su = ["log_qty_rel", "supply_lr", "supply_due", "supply_lo"]
    si = [k for k in train.columns if "_x_rep" in k or "_x_ncand" in k] + ["shop_rep", "log_ncand"]
    pr = ["promo_mailer", "promo_display", "promo_mailer_x_logn", "promo_display_x_logn"]
    si_f = [k for k in si if not k.startswith(("log_ratio", "hinge_due"))]
    variants |= {
        "ALL + inv_freq": A + ["inv_freq"],
        "ALL + gap context": A + ["gap_lift", "gap_share"],
        "ALL + inv_freq + gap context": A + bc,
        "FREQUENCY + inv_freq": F + ["inv_freq"],
        "frac: ALL": A,
        "frac: FREQUENCY": F,
        "frac: ALL + inv_freq + gap context": A + bc,
        "frac: FREQUENCY + inv_freq": F + ["inv_freq"],
        "frac: ALL + inv_freq + gap + splines": A + bc + spl,
        "frac10: ALL": A,
        "frac10: FREQUENCY": F,
        "frac10: ALL + splines": A + spl,
        "frac10: FREQUENCY + splines (no calendar)": F
        + [x for x in spl if not x.startswith(("log_ratio", "lr_", "hd_"))],
        "ALL + supply (quantity-adjusted ratio)": A + su,
        "FREQUENCY + supply": F + su,
        "frac10: ALL + splines + supply": A + spl + su,
        "ALL + basket-order decays 0.5..0.98": A + bdec,
        "ALL + calendar half-lives 14/45/120 days": A + tdec,
        "FREQUENCY + basket-order decays (no calendar)": F + bdec,
        "FREQUENCY + basket decays + calendar half-lives": F + bdec + tdec,
        "ALL + shopper interactions": A + si,
        "FREQUENCY + shopper interactions (no calendar)": F + si_f,
        "ALL + shopper interactions + splines": A + si + spl,
        "ALL + promo (mailer, display, each x log n)": A + pr,
        "ALL + promo flags only (no x log n)": A + pr[:2],
        "frac10: ALL + splines + promo (mailer, display, each x log n)": A + spl + pr,
        "frac10: ALL + splines + promo flags only": A + spl + pr[:2],
        "ALL + promo in the next trip's week": A + [k.replace("promo", "trip") for k in pr],
        "frac10: ALL + splines + promo in the next trip's week": A
        + spl
        + [k.replace("promo", "trip") for k in pr],
    }
    weights = np.where(ex["label"].to_numpy() == 1, 1.0, 1.0 / NEGATIVE_RATE)
    if not variants_wanted or any("uniform" in w for w in variants_wanted):
        ux = uniform_window_examples(history, cutoff)
        ux = ux[(ux["label"] == 1).to_numpy() | (rng.random(len(ux)) < NEGATIVE_RATE)]
        ut = fm.design_matrix(ux, priors)
        uy = ux["label"].to_numpy(float)
        for name, features in {"uniform: ALL": A, "uniform: FREQUENCY": F}.items():
            params, mu, sd, active = fit(ut[features].to_numpy(float), uy)
            x = ((valid[features].to_numpy(float) - mu) / sd)[:, active]
            out[name] = metrics(cp, params[0] + x @ params[1:], split)
            print(
                f"  {name:58s} Recall@10 {out[name][0]:.4f} NDCG@10 {out[name][1]:.4f}", flush=True
            )
    if variants_wanted and any("bound" in w for w in variants_wanted):
        # Diagnostic, never a model: fitted on the validation baskets it is scored on, the
        # richest feature set's in-sample ranking bounds what any refit of it could reach.
        vy = (
            cp[["customer_id", "product_id"]]
            .merge(split.targets[["customer_id", "product_id"]].assign(y=1.0), how="left")["y"]
            .fillna(0.0)
            .to_numpy()
        )
        rich = A + hz + ["lvl_prod", "hz_rel", "wd_lift", "type_lift"] + spl + bc + su
        rich += bdec + tdec
        bounds = {"in-sample bound: ALL": A, "in-sample bound: rich": rich}
        if any("promo" in w for w in variants_wanted):
            bounds |= {
                "in-sample bound: ALL + splines": A + spl,
                "in-sample bound: ALL + splines + promo": A + spl + pr,
                "in-sample bound: rich + promo": rich + pr,
            }
        for name, features in bounds.items():
            params, mu, sd, active = fit(valid[features].to_numpy(float), vy)
            x = ((valid[features].to_numpy(float) - mu) / sd)[:, active]
            out[name] = metrics(cp, params[0] + x @ params[1:], split)
            print(f"  {name:58s} Recall@10 {out[name][0]:.4f} NDCG@10 {out[name][1]:.4f}")
    for name, features in variants.items():
        if variants_wanted and not any(w in name for w in variants_wanted):
            continue
        if name.startswith("frac"):
            # frac10: y / min(size, 10), the normalisation NDCG@10's ideal DCG uses.
            denom = np.minimum(size, 10) if name.startswith("frac10") else size
            params, mu, sd, active = fit(train[features].to_numpy(float), y / denom, weights)
            x = ((valid[features].to_numpy(float) - mu) / sd)[:, active]
            out[name] = metrics(cp, params[0] + x @ params[1:], split)
            print(
                f"  {name:58s} Recall@10 {out[name][0]:.4f} NDCG@10 {out[name][1]:.4f}", flush=True
            )
            if "promo" in name:
                promo_coefficients(features, params, active)
            continue
        params, mu, sd, active = fit(train[features].to_numpy(float), y)
        x = ((valid[features].to_numpy(float) - mu) / sd)[:, active]
        out[name] = metrics(cp, params[0] + x @ params[1:], split)
        print(f"  {name:58s} Recall@10 {out[name][0]:.4f} NDCG@10 {out[name][1]:.4f}", flush=True)
        if "promo" in name:
            promo_coefficients(features, params, active)
    print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    return out


def main(days: list[str]) -> None:
    history = fm._prepare(ev.load_complete_journey())
    PROMO.update(load_promotions())
    for day in days:
        run_cutoff(history, day, WANTED)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--only=")]
    only = [a[len("--only=") :] for a in sys.argv[1:] if a.startswith("--only=")]
    WANTED = only[0].split(",") if only else None
    COUNT_BUCKETS = "--count-buckets" in args
    args = [a for a in args if a != "--count-buckets"]
    main(args or ["2017-08-04", "2017-07-15"])
