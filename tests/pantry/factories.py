"""Factories for pantry tests: perishable products with shelf lives, items, grants."""

from datetime import date, timedelta
from decimal import Decimal

import factory

from accounts.consent import set_consent
from insights.pantry.models import PantryItem
from tests.factories import CategoryFactory, ProductFactory


def grant(user, *purposes: str) -> None:
    for purpose in purposes:
        set_consent(user=user, purpose=purpose, granted=True, method="consent_centre")


def dairy(**kwargs):
    defaults = {
        "name": "Dairy",
        "default_shelf_life_days": 10,
        "default_shelf_life_opened_days": 4,
        "default_shelf_life_frozen_days": 90,
    }
    defaults.update(kwargs)
    return CategoryFactory(**defaults)


def yoghurt(**kwargs):
    defaults = {
        "sku": "YOG1",
        "name": "Yoghurt",
        "perishable": True,
        "shelf_life_days": 14,
        "category": dairy(),
    }
    defaults.update(kwargs)
    return ProductFactory(**defaults)


class PantryItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PantryItem

    product = factory.LazyFunction(yoghurt)
    quantity = Decimal("1")
    bought_on = date(2026, 11, 3)
    shelf_life_days = 14
    rule_days = 14
    estimate_rule = PantryItem.Rule.PRODUCT
    best_before = factory.LazyAttribute(lambda o: o.bought_on + timedelta(days=o.shelf_life_days))
    estimated_best_before = factory.LazyAttribute(lambda o: o.best_before)
    due_soon_on = factory.LazyAttribute(lambda o: o.best_before - timedelta(days=2))
    value = Decimal("20.00")
