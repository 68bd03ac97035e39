"""Build a stored list directly, as a refresh would leave it, for page and API tests."""

from datetime import date, timedelta
from decimal import Decimal

from insights.forecasts.models import Forecast, ListItem, ListSnapshot, ShoppingList
from tests.factories import CategoryFactory, DepartmentFactory, ProductFactory
from tests.forecasts.conftest import NOW


def stored_list(user, *, n_items=3, computed_at=NOW, status="fresh", departments=3):
    """A fresh list of `n_items` predicted items over `departments` aisles, with forecasts."""
    shopping_list, _ = ShoppingList.objects.update_or_create(
        user=user,
        defaults={
            "for_trip_on": date(2026, 11, 26),
            "computed_at": computed_at,
            "status": status,
            "typical_basket_size": 12,
        },
    )
    depts = [
        DepartmentFactory(name=f"Aisle {chr(65 + d)}", aisle_order=10 * (departments - d))
        for d in range(departments)
    ]
    items = []
    for n in range(n_items):
        dept = depts[n % departments]
        product = ProductFactory(
            sku=f"P{user.pk}-{n:03d}",
            name=f"Product {n:03d}",
            category=CategoryFactory(department=dept, name=f"Cat {dept.name}"),
        )
        probability = [0.8, 0.5, 0.2][n % 3]
        Forecast.objects.create(
            user=user,
            product=product,
            probability=probability,
            expected_quantity=Decimal("2"),
            expected_date=date(2026, 11, 25),
            n_purchases=7,
            first_bought=date(2026, 5, 2),
            last_bought=date(2026, 11, 1),
            interval_days=21,
            source="personal",
            rank=n + 1,
            computed_at=computed_at,
        )
        items.append(
            ListItem.objects.create(
                shopping_list=shopping_list,
                product=product,
                kind="predicted",
                quantity=Decimal("2"),
                department=dept,
                added_by="model",
                probability=probability,
            )
        )
    return shopping_list, items


def scored_last_list(user, *, n_items=12, n_bought=8):
    return ListSnapshot.objects.create(
        user=user,
        list_computed_at=NOW - timedelta(days=8),
        product_ids=list(range(n_items)),
        shop_at=NOW - timedelta(days=2),
        n_items=n_items,
        n_bought=n_bought,
    )
