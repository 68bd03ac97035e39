"""Factories for the load benchmark's tests: demo logins with orders and every grant."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.purposes import INSIGHTS, MODEL_IMPROVEMENT, PANTRY, PREDICTIONS
from insights.purchases import demo
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)
from tests.pantry.factories import dairy, grant

EVERY_PURPOSE = (INSIGHTS, PREDICTIONS, PANTRY, MODEL_IMPROVEMENT)


def demo_shopper(household: int, *, orders: int, granted=EVERY_PURPOSE, source=demo.SOURCE):
    """A demo login with `orders` weekly orders of two perishable lines, the last one yesterday."""
    user = UserFactory(email=demo.demo_email(household))
    customer = CustomerFactory(user=user)
    grant(user, *granted)
    category = dairy(name=f"Dairy {household}")
    milk = ProductFactory(name="Milk", perishable=True, shelf_life_days=10, category=category)
    bread = ProductFactory(name="Bread", perishable=True, shelf_life_days=5, category=category)
    yesterday = timezone.now() - timedelta(days=1)
    for week in range(orders):
        order = OrderFactory(
            customer=customer, source=source, placed_at=yesterday - timedelta(days=7 * week)
        )
        for line_no, product in enumerate((milk, bread), start=1):
            OrderLineFactory(
                order=order, line_no=line_no, product=product, amount_paid=Decimal("20.00")
            )
    return user
