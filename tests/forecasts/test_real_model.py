"""The refresh with the real model.py (not the stand-in): it runs, ranks and honours decisions."""

import random
from datetime import timedelta

import pytest

from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
from insights.forecasts import services
from insights.forecasts.models import Forecast, ListItem
from tests.factories import CustomerFactory, ProductFactory, UserFactory
from tests.forecasts.conftest import FAKE_RULES, NOW, grant, shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _real_model(monkeypatch):
    from insights.forecasts import model

    try:
        from insights.forecasts import rules
    except ImportError:  # rules.py not landed yet: only the rules are stood in for
        rules = FAKE_RULES
    monkeypatch.setattr(services, "_model_api", lambda: (model, rules))


@pytest.fixture
def shoppers(alice, catalog):
    """Alice and eight contributors with irregular trips and products of different cadences."""
    rng = random.Random(4)
    extras = [
        ProductFactory(sku=f"X{n}", name=f"Extra {n}", category=catalog.milk.category)
        for n in range(12)
    ]
    people = [alice]
    for n in range(8):
        user = UserFactory(email=f"c{n}@example.com")
        CustomerFactory(user=user)
        grant(user, MODEL_IMPROVEMENT)
        people.append(user)
    for person in people:
        when = NOW - timedelta(days=180)
        k = 0
        while when < NOW - timedelta(days=2):
            basket = [catalog.milk] if rng.random() < 0.9 else []
            if k % 2 == 0 or rng.random() < 0.2:
                basket.append(catalog.bread)
            if k % 4 == 0:
                basket.append(catalog.coffee)
            basket += rng.sample(extras, 3)
            shop(person.customer, when, basket)
            when += timedelta(days=rng.choice([3, 4, 5, 7, 8]), hours=rng.randint(0, 8))
            k += 1
    grant(alice, PREDICTIONS)
    return people


def test_the_real_model_ranks_the_staple_first(alice, shoppers, frozen):
    run = services.refresh_forecasts(user_ids=[alice.pk])
    assert (run.shoppers, run.errors) == (1, 0)
    forecasts = {f.product.sku: f for f in Forecast.objects.filter(user=alice)}
    assert forecasts["MILK"].rank == 1
    assert 0 < forecasts["MILK"].probability < 1
    assert forecasts["MILK"].probability > forecasts["X0"].probability
    assert ListItem.objects.filter(shopping_list__user=alice, product__sku="MILK").exists()


def test_the_real_model_honours_snooze_never_and_still_have(alice, shoppers, frozen, catalog):
    services.refresh_forecasts(user_ids=[alice.pk])
    coffee_before = Forecast.objects.get(user=alice, product=catalog.coffee)
    milk_item = services.add_own_item(user=alice, product=catalog.milk)
    bread_item = services.add_own_item(user=alice, product=catalog.bread)
    coffee_item = services.add_own_item(user=alice, product=catalog.coffee)
    services.apply_item_action(user=alice, item=milk_item, action="snooze", days=10)
    services.apply_item_action(user=alice, item=bread_item, action="never")
    services.apply_item_action(user=alice, item=coffee_item, action="still_have")
    frozen.shift(timedelta(hours=1))
    services.refresh_forecasts(user_ids=[alice.pk])
    skus = set(
        ListItem.objects.filter(shopping_list__user=alice, product__isnull=False).values_list(
            "product__sku", flat=True
        )
    )
    assert not {"MILK", "BREAD", "COFFEE"} & skus
    assert not Forecast.objects.filter(user=alice, product=catalog.bread).exists()
    coffee_after = Forecast.objects.get(user=alice, product=catalog.coffee)
    assert coffee_after.expected_date > coffee_before.expected_date
