"""Shoppers with consents and purchase history made fast, for the fault tests' workers."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd

from accounts.consent import current_text
from accounts.models import ConsentEvent, Customer, CustomerIdentifier, User
from insights.pantry.models import PantryItem, PantrySettings
from insights.purchases.services import ingest_lines
from tests.factories import ProductFactory


def shoppers(count: int, *purposes: str, prefix: str = "shopper") -> list[User]:
    """`count` logins with a customer and loyalty card "<prefix>-<n>", granted `purposes`.

    Written in bulk, grants included: the grant signals would queue tasks on the suite's own
    broker, while these tests queue exactly what they mean to on a private one.
    """
    users = User.objects.bulk_create(
        [
            User(email=f"{prefix}{n}@example.com", name=f"Shopper {n}", password="!")
            for n in range(count)
        ]
    )
    customers = Customer.objects.bulk_create([Customer(user=user) for user in users])
    CustomerIdentifier.objects.bulk_create(
        [
            CustomerIdentifier(customer=customer, kind="loyalty_card", value=f"{prefix}-{n}")
            for n, customer in enumerate(customers)
        ]
    )
    grant(users, *purposes)
    return users


def grant(users: list[User], *purposes: str) -> None:
    """Grants as the consent centre records them, without their signals (see above)."""
    ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                user=user,
                purpose=purpose,
                text=current_text(purpose),
                granted=True,
                method=ConsentEvent.Method.CONSENT_CENTRE,
            )
            for purpose in purposes
            for user in users
        ]
    )


def weekly_orders(users: list[User], *, weeks: int, now: datetime, prefix: str = "shopper"):
    """Eight-ish weeks of regular shopping per shopper, ingested as one batch (no refresh).

    Milk and bread every week, coffee every other week, and one product that differs by
    shopper, so forecasts differ between shoppers.
    """
    rows = []
    for n, _user in enumerate(users):
        for week in range(weeks):
            placed = (now - timedelta(days=3 + 7 * (weeks - 1 - week))).astimezone(UTC)
            items = [("MILK", "Milk 1 l"), ("BREAD", "Rye bread"), (f"X{n % 7}", f"Extra {n % 7}")]
            if week % 2 == 0:
                items.append(("COFFEE", "Coffee 500 g"))
            for sku, name in items:
                rows.append(
                    {
                        "external_id": f"{prefix}-{n}-w{week}",
                        "customer_kind": "loyalty_card",
                        "customer_value": f"{prefix}-{n}",
                        "channel": "store",
                        "store_id": "1",
                        "placed_at": placed.isoformat(),
                        "currency": "SEK",
                        "sku": sku,
                        "product_name": name,
                        "quantity": "1",
                        "unit_price": "20.00",
                        "amount_paid": "20.00",
                        "discount": "0",
                        "coupon_discount": "0",
                    }
                )
    frame = pd.DataFrame(rows, dtype=object)
    frame["row"] = [str(i + 2) for i in range(len(rows))]
    result = ingest_lines(source="faults", lines=frame, queue_refresh=False)
    assert result.ok, result.errors[:5]
    return result


def due_pantries(users: list[User], *, today: date) -> None:
    """One yoghurt per shopper, due soon today in every time zone, and no quiet hours."""
    yoghurt = ProductFactory(sku="FAULT-YOG", name="Yoghurt", perishable=True, shelf_life_days=7)
    PantrySettings.objects.bulk_create(
        [PantrySettings(user=u, quiet_hours_start=None, quiet_hours_end=None) for u in users]
    )
    PantryItem.objects.bulk_create(
        [
            PantryItem(
                user=user,
                product=yoghurt,
                bought_on=today - timedelta(days=5),
                best_before=today + timedelta(days=2),
                estimated_best_before=today + timedelta(days=2),
                shelf_life_days=7,
                rule_days=7,
                estimate_rule=PantryItem.Rule.PRODUCT,
                due_soon_on=today - timedelta(days=2),
                value=Decimal("15.00"),
            )
            for user in users
        ]
    )
