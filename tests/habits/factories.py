"""Factories for habit tests: a shopper's orders with lines, and consent switched on."""

from datetime import datetime, timedelta
from decimal import Decimal

from accounts.consent import set_consent
from accounts.models import ConsentEvent, User
from accounts.purposes import INSIGHTS
from tests.factories import CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory


def grant_insights(user: User) -> None:
    set_consent(user=user, purpose=INSIGHTS, granted=True, method=ConsentEvent.Method.DEMO)


def shop(user: User, *, start: datetime, trips: int, every_days: int = 3, amount: str = "25.00"):
    """`trips` orders of two lines each (milk and snacks), `every_days` apart from `start`."""
    dairy = CategoryFactory(name="Dairy")
    snacks = CategoryFactory(name="Snacks")
    milk = ProductFactory(name="Oat milk", category=dairy)
    crisps = ProductFactory(name="Crisps", category=snacks)
    orders = []
    for i in range(trips):
        order = OrderFactory(
            customer=user.customer, placed_at=start + timedelta(days=i * every_days)
        )
        for n, product in enumerate((milk, crisps), start=1):
            OrderLineFactory(
                order=order,
                line_no=n,
                product=product,
                amount_paid=Decimal(amount),
                discount=Decimal("2.50") if n == 1 else Decimal("0"),
            )
        orders.append(order)
    return orders
