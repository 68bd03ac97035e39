"""A small store for the browser tests: a catalog, shoppers with months of receipts, link codes.

Everything goes through the product's own entrances (`ingest_orders`, `check_in`,
`link_customer_directly`, `create_link_code`) with Celery eager, so the derived pages
(habits, list, pantry) show what the real refresh pipeline computed, with the real
habits analysis and the real forecasting model. Dates are relative to the real clock:
the browser and the server share it, and a frozen clock would also freeze cookie expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from django.utils import timezone

from accounts import services as account_services
from accounts.models import Customer, User
from accounts.purposes import INSIGHTS, MODEL_IMPROVEMENT, PANTRY, PREDICTIONS
from insights.catalog.models import Product
from insights.purchases.services import ingest_orders
from tests.factories import CategoryFactory, DepartmentFactory, ProductFactory, UserFactory

SOURCE = "e2e"
PASSWORD = "Lingonberry-receipts-2026"
WEEKS = 16
_order_numbers = count(1)


@dataclass
class Catalog:
    milk: Product
    yoghurt: Product
    cheese: Product
    bread: Product
    bananas: Product
    coffee: Product
    pasta: Product
    candles: Product

    @classmethod
    def create(cls) -> Catalog:
        dairy = DepartmentFactory(name="Dairy", aisle_order=20)
        bakery = DepartmentFactory(name="Bakery", aisle_order=10)
        fruit = DepartmentFactory(name="Fruit and vegetables", aisle_order=5)
        dry = DepartmentFactory(name="Dry goods", aisle_order=30)
        milk_cat = CategoryFactory(department=dairy, name="Milk", default_shelf_life_days=9)
        yoghurt_cat = CategoryFactory(
            department=dairy,
            name="Yoghurt",
            default_shelf_life_days=14,
            default_shelf_life_opened_days=4,
        )
        cheese_cat = CategoryFactory(department=dairy, name="Cheese", default_shelf_life_days=30)
        bread_cat = CategoryFactory(department=bakery, name="Bread", default_shelf_life_days=4)
        fruit_cat = CategoryFactory(department=fruit, name="Fruit", default_shelf_life_days=7)
        coffee_cat = CategoryFactory(department=dry, name="Coffee")
        pasta_cat = CategoryFactory(department=dry, name="Pasta")
        party_cat = CategoryFactory(department=dry, name="Party")
        return cls(
            milk=ProductFactory(
                sku="E2E-MILK", name="Milk 1 l", category=milk_cat, perishable=True
            ),
            yoghurt=ProductFactory(
                sku="E2E-YOG", name="Yoghurt 1 kg", category=yoghurt_cat, perishable=True
            ),
            cheese=ProductFactory(
                sku="E2E-CHEESE", name="Cheddar 500 g", category=cheese_cat, perishable=True
            ),
            bread=ProductFactory(
                sku="E2E-BREAD", name="Rye bread", category=bread_cat, perishable=True
            ),
            bananas=ProductFactory(
                sku="E2E-BANANA", name="Bananas 1 kg", category=fruit_cat, perishable=True
            ),
            coffee=ProductFactory(sku="E2E-COFFEE", name="Coffee 500 g", category=coffee_cat),
            pasta=ProductFactory(sku="E2E-PASTA", name="Spaghetti 1 kg", category=pasta_cat),
            candles=ProductFactory(sku="E2E-CANDLE", name="Birthday candles", category=party_cat),
        )


PRICES = {
    "E2E-MILK": "14.90",
    "E2E-YOG": "32.50",
    "E2E-CHEESE": "64.00",
    "E2E-BREAD": "29.90",
    "E2E-BANANA": "24.90",
    "E2E-COFFEE": "59.00",
    "E2E-PASTA": "21.50",
    "E2E-CANDLE": "19.00",
}


def order(card: str, when: datetime, products: list[Product], *, discount_on: str = "") -> dict:
    """One order as the ingestion API takes it; `discount_on` (a sku) gets 5.00 off."""
    lines = []
    for product in products:
        price = Decimal(PRICES[product.sku])
        discount = Decimal("5.00") if product.sku == discount_on else Decimal("0")
        lines.append(
            {
                "sku": product.sku,
                "name": product.name,
                "quantity": "1",
                "unit_price": str(price),
                "amount_paid": str(price - discount),
                "discount": str(discount),
            }
        )
    return {
        "external_id": f"E2E{next(_order_numbers):06d}",
        "customer": {"kind": "loyalty_card", "value": card},
        "channel": "store",
        "store_id": "12",
        "placed_at": when.isoformat(),
        "currency": "SEK",
        "lines": lines,
    }


def shop_day() -> datetime:
    """Late morning of today in the shoppers' time zone, the anchor of every history here.

    Anchoring on the local day, not on the clock, keeps the pantry's dates the same whatever
    hour the suite runs: from 22:00 UTC Stockholm is already on the next day, and "two days
    ago" from the raw clock moved the last trip's best-before dates past the due-soon window.
    """
    local = timezone.localtime(timezone.now())  # TIME_ZONE, every new shopper's default
    return local.replace(hour=10, minute=30, second=0, microsecond=0)


def weekly_orders(catalog: Catalog, card: str, *, now: datetime) -> list[dict]:
    """`WEEKS` weekly trips ending two days before `now`: staples every week, the rest on a rhythm.

    The last trip is recent enough for its dairy, bread and fruit to be in the pantry, and
    its bread (4 days) enters the 2-day reminder window today; earlier weeks' packs are
    taken as used up, since every later trip bought them again.
    """
    c = catalog
    orders = []
    for k in range(WEEKS):
        when = now - timedelta(days=2 + 7 * (WEEKS - 1 - k), hours=k % 3)
        basket = [c.milk, c.bread, c.bananas]
        if k % 2 == 0:
            basket += [c.yoghurt, c.pasta]
        if k % 3 == 0:
            basket.append(c.coffee)
        if k % 4 == 3 or k == WEEKS - 1:
            basket.append(c.cheese)
        if k == WEEKS - 1 and c.yoghurt not in basket:
            basket.append(c.yoghurt)
        orders.append(order(card, when, basket, discount_on=c.coffee.sku if k % 3 == 0 else ""))
    return orders


def ingest(orders: list[dict]) -> None:
    result = ingest_orders(source=SOURCE, orders=orders)
    assert result.ok, result.errors


@dataclass
class Store:
    """The catalog, a few contributing shoppers (the model's training data) and helpers."""

    catalog: Catalog

    @classmethod
    def open(cls) -> Store:
        """A catalog and three shoppers who let their history improve the model."""
        store = cls(Catalog.create())
        now = shop_day()
        for n in range(3):
            user = UserFactory(email=f"contributor{n}@example.com", name=f"Contributor {n}")
            account_services.check_in(user=user, granted=[MODEL_IMPROVEMENT])
            card = f"E2E-CONTRIB-{n}"
            account_services.link_customer_directly(
                kind="loyalty_card", value=card, email=user.email
            )
            ingest(weekly_orders(store.catalog, card, now=now - timedelta(days=n)))
        return store

    def unlinked_history(self, card: str) -> tuple[Customer, list[str]]:
        """Receipts the store holds under `card` with no login yet; returns their ids."""
        orders = weekly_orders(self.catalog, card, now=shop_day())
        ingest(orders)
        customer = Customer.objects.get(identifiers__value=card)
        return customer, [o["external_id"] for o in orders]

    def link_code(self, customer: Customer) -> str:
        return account_services.create_link_code(customer=customer).code

    def checked_in_shopper(self, *, email: str, name: str, card: str) -> User:
        """A shopper who checked in with habits, list and pantry on, and has a history."""
        user = UserFactory(email=email, name=name, password=PASSWORD)
        account_services.check_in(user=user, granted=[INSIGHTS, PREDICTIONS, PANTRY])
        account_services.link_customer_directly(kind="loyalty_card", value=card, email=email)
        ingest(weekly_orders(self.catalog, card, now=shop_day()))
        return user
