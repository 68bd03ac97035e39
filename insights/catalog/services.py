"""Catalog bulk edits used by the admin actions: shelf life, review, activation."""

from django.db import transaction
from django.db.models import QuerySet

from insights.catalog.models import Product

SHELF_LIFE_FIELDS = {
    "best_before": "shelf_life_days",
    "opened": "shelf_life_opened_days",
    "frozen": "shelf_life_frozen_days",
}


@transaction.atomic
def set_shelf_life(
    *, products: QuerySet[Product], days: int | None, kind: str = "best_before"
) -> int:
    """Set (or with None clear, back to the category default) one shelf life; returns the count."""
    if kind not in SHELF_LIFE_FIELDS:
        raise ValueError(f"Unknown shelf-life kind {kind!r}")
    if days is not None and days < 1:
        raise ValueError("A shelf life is at least one day")
    return products.update(**{SHELF_LIFE_FIELDS[kind]: days})


@transaction.atomic
def mark_reviewed(*, products: QuerySet[Product]) -> int:
    return products.filter(reviewed=False).update(reviewed=True)


@transaction.atomic
def set_active(*, products: QuerySet[Product], active: bool) -> int:
    return products.exclude(active=active).update(active=active)
