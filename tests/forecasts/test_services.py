"""Refreshing forecasts: consent, batch writes that keep the shopper's items and decisions."""

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest

from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
from insights.forecasts import services
from insights.forecasts.models import (
    Forecast,
    ForecastModel,
    ForecastRun,
    ItemAction,
    ListItem,
    ListSnapshot,
    ShoppingList,
)
from tests.factories import CustomerFactory, UserFactory
from tests.forecasts.conftest import NOW, grant, shop, weekly_history, withdraw

pytestmark = pytest.mark.django_db


def _items(user):
    return {
        (i.product.sku if i.product_id else i.free_text): (i.kind, i.state)
        for i in ListItem.objects.filter(shopping_list__user=user).select_related("product")
    }


def _item(user, product):
    return ListItem.objects.get(shopping_list__user=user, product=product)


def test_history_leaves_out_never_listed_departments_and_categories(alice, alice_history):
    frame = services.load_history(customer_ids=[alice.customer.pk], before=NOW)
    skus = set(frame["product_id"].map({p.pk: p.sku for p in _products(alice_history)}))
    assert skus == {"MILK", "BREAD", "COFFEE"}
    assert list(frame.columns) == services.HISTORY_COLUMNS
    assert str(frame["placed_at"].dt.tz) == "UTC"


def _products(catalog):
    return [
        catalog.milk,
        catalog.bread,
        catalog.coffee,
        catalog.butter,
        catalog.gas,
        catalog.coupon,
    ]


def test_history_stops_before_as_of(alice, alice_history):
    frame = services.load_history(customer_ids=[alice.customer.pk], before=NOW - timedelta(days=8))
    assert frame["placed_at"].max() < NOW - timedelta(days=8)
    assert frame["order_id"].nunique() == 9


def test_refresh_writes_forecasts_and_a_list_for_a_consenting_shopper(consenting_alice, frozen):
    c = services.refresh_forecasts(user_ids=[consenting_alice.pk])
    assert isinstance(c, ForecastRun)
    assert (c.shoppers, c.errors) == (1, 0)
    assert c.finished_at is not None
    forecasts = {f.product.sku: f for f in Forecast.objects.filter(user=consenting_alice)}
    assert set(forecasts) == {"MILK", "BREAD", "COFFEE"}
    milk = forecasts["MILK"]
    assert milk.n_purchases == 10
    assert milk.source == "personal"
    assert milk.interval_days == pytest.approx(7, abs=1)
    assert milk.computed_at == NOW
    shopping_list = ShoppingList.objects.get(user=consenting_alice)
    assert shopping_list.status == "fresh"
    assert shopping_list.for_trip_on >= NOW.date()
    items = _items(consenting_alice)
    assert items["MILK"] == ("predicted", "open")
    assert "GAS" not in items and "COUPON" not in items
    assert _item(consenting_alice, alice_history_milk(consenting_alice)).department.name == "Dairy"


def alice_history_milk(user):
    return Forecast.objects.get(user=user, product__sku="MILK").product


def test_refresh_skips_a_shopper_without_the_predictions_grant(alice, alice_history, frozen):
    run = services.refresh_forecasts(user_ids=[alice.pk])
    assert run.shoppers == 0
    assert not Forecast.objects.filter(user=alice).exists()
    assert not ShoppingList.objects.filter(user=alice).exists()


def test_refresh_is_idempotent(consenting_alice, frozen):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    first = list(
        Forecast.objects.filter(user=consenting_alice)
        .order_by("product_id")
        .values_list("product_id", "probability", "expected_date", "rank")
    )
    items = _items(consenting_alice)
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    again = list(
        Forecast.objects.filter(user=consenting_alice)
        .order_by("product_id")
        .values_list("product_id", "probability", "expected_date", "rank")
    )
    assert again == first
    assert _items(consenting_alice) == items


def test_refresh_keeps_own_items_and_the_shoppers_decisions(consenting_alice, frozen):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    milk = Forecast.objects.get(user=consenting_alice, product__sku="MILK").product
    bread = Forecast.objects.get(user=consenting_alice, product__sku="BREAD").product
    services.add_own_item(user=consenting_alice, free_text="Birthday candles")
    services.apply_item_action(
        user=consenting_alice, item=_item(consenting_alice, milk), action="tick"
    )
    services.apply_item_action(
        user=consenting_alice, item=_item(consenting_alice, bread), action="not_this_time"
    )
    frozen.shift(timedelta(hours=2))
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    items = _items(consenting_alice)
    assert items["Birthday candles"] == ("own", "open")
    assert items["MILK"] == ("predicted", "ticked")
    assert items["BREAD"] == ("predicted", "skipped")
    assert ListItem.objects.filter(shopping_list__user=consenting_alice, product=milk).count() == 1


def test_a_refresh_that_fails_leaves_the_old_list_and_records_the_error(
    consenting_alice, frozen, monkeypatch
):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    before = _items(consenting_alice)
    from tests.forecasts import fake_model as model

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(model, "predict", broken)
    services.mark_computing(user_ids=[consenting_alice.pk])
    with pytest.raises(RuntimeError):
        services.refresh_forecasts(user_ids=[consenting_alice.pk])
    run = ForecastRun.objects.filter(kind="refresh").first()
    assert run.errors == 1 and "boom" in run.error_detail
    assert _items(consenting_alice) == before
    assert ShoppingList.objects.get(user=consenting_alice).status == "stale"


def test_a_new_shop_closes_the_trip_and_scores_the_last_list(consenting_alice, frozen):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    milk = Forecast.objects.get(user=consenting_alice, product__sku="MILK").product
    listed = set(
        ListItem.objects.filter(shopping_list__user=consenting_alice).values_list(
            "product_id", flat=True
        )
    )
    services.apply_item_action(
        user=consenting_alice, item=_item(consenting_alice, milk), action="tick"
    )
    own = services.add_own_item(user=consenting_alice, free_text="Candles")
    services.apply_item_action(user=consenting_alice, item=own, action="tick")
    services.add_own_item(user=consenting_alice, free_text="Still needed")
    frozen.shift(timedelta(days=1))
    shop(consenting_alice.customer, NOW + timedelta(hours=20), [milk])
    frozen.shift(timedelta(days=1))
    services.refresh_forecasts(user_ids=[consenting_alice.pk])

    snapshot = ListSnapshot.objects.get(user=consenting_alice)
    assert snapshot.n_items == len(listed)
    assert snapshot.n_bought == 1
    assert snapshot.shop_at == NOW + timedelta(hours=20)
    items = _items(consenting_alice)
    assert "Candles" not in items
    assert items["Still needed"] == ("own", "open")
    assert items.get("MILK", ("predicted", "open"))[1] == "open"


def test_a_snoozed_product_leaves_the_list_and_returns_when_the_snooze_ends(
    consenting_alice, frozen
):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    milk = Forecast.objects.get(user=consenting_alice, product__sku="MILK").product
    services.apply_item_action(
        user=consenting_alice, item=_item(consenting_alice, milk), action="snooze", days=14
    )
    action = ItemAction.objects.get(user=consenting_alice, action="snooze")
    assert action.until == NOW + timedelta(days=14)
    frozen.shift(timedelta(days=1))
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    assert "MILK" not in _items(consenting_alice)

    frozen.shift(timedelta(days=14))
    shop(
        consenting_alice.customer,
        NOW + timedelta(days=15),
        [consenting_alice_bread(consenting_alice)],
    )
    frozen.shift(timedelta(days=7))
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    assert "MILK" in _items(consenting_alice)
    forecast = Forecast.objects.get(user=consenting_alice, product=milk)
    assert forecast.expected_date >= (NOW + timedelta(days=14)).date()


def consenting_alice_bread(user):
    return Forecast.objects.get(user=user, product__sku="BREAD").product


def test_a_product_marked_never_is_never_suggested_again(consenting_alice, frozen):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    milk = Forecast.objects.get(user=consenting_alice, product__sku="MILK").product
    services.apply_item_action(
        user=consenting_alice, item=_item(consenting_alice, milk), action="never"
    )
    assert not Forecast.objects.filter(user=consenting_alice, product=milk).exists()
    for week in range(1, 4):
        shop(consenting_alice.customer, NOW + timedelta(days=7 * week - 1), [milk])
    frozen.shift(timedelta(days=30))
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    assert "MILK" not in _items(consenting_alice)
    assert not Forecast.objects.filter(user=consenting_alice, product=milk).exists()


def test_i_still_have_some_moves_the_expected_date_later(consenting_alice, frozen):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    before = Forecast.objects.get(user=consenting_alice, product__sku="COFFEE")
    services.apply_item_action(
        user=consenting_alice, item=_item(consenting_alice, before.product), action="still_have"
    )
    frozen.shift(timedelta(hours=1))
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    after = Forecast.objects.get(user=consenting_alice, product=before.product)
    assert after.expected_date > before.expected_date
    assert "COFFEE" not in _items(consenting_alice)


def test_only_model_improvement_contributors_train_the_shared_model(
    alice, charlie, catalog, frozen, monkeypatch
):
    weekly_history(alice.customer, catalog)
    weekly_history(charlie.customer, catalog)
    grant(alice, PREDICTIONS)
    grant(charlie, MODEL_IMPROVEMENT)
    from tests.forecasts import fake_model as model

    seen: dict[str, list] = {}
    real_fit, real_popular = model.fit_model, model.popular_products

    def spy_fit(history, as_of, *, train_customer_ids=None, **kw):
        seen["fit"] = sorted(train_customer_ids)
        return real_fit(history, as_of, train_customer_ids=train_customer_ids, **kw)

    def spy_popular(history, as_of, *, contributor_customer_ids, top_n=20):
        seen["popular"] = sorted(contributor_customer_ids)
        return real_popular(
            history, as_of, contributor_customer_ids=contributor_customer_ids, top_n=top_n
        )

    monkeypatch.setattr(model, "fit_model", spy_fit)
    monkeypatch.setattr(model, "popular_products", spy_popular)
    services.refresh_forecasts(user_ids=[alice.pk, charlie.pk])
    stored = ForecastModel.objects.get()
    assert seen == {"fit": [charlie.customer.pk], "popular": [charlie.customer.pk]}
    assert stored.n_contributors == 1
    # Charlie lent his history to the model but did not ask for a list himself.
    assert not Forecast.objects.filter(user=charlie).exists()


def test_a_new_shopper_gets_popular_suggestions_labelled_as_such(alice, catalog, frozen):
    for n in range(4):
        contributor = UserFactory(email=f"contributor{n}@example.com")
        CustomerFactory(user=contributor)
        weekly_history(contributor.customer, catalog)
        grant(contributor, MODEL_IMPROVEMENT)
    grant(alice, PREDICTIONS)
    shop(alice.customer, NOW - timedelta(days=2), [catalog.butter])
    services.refresh_forecasts(user_ids=[alice.pk])
    forecasts = {f.product.sku: f.source for f in Forecast.objects.filter(user=alice)}
    assert forecasts["MILK"] == "popular"
    assert forecasts["BUTTER"] == "personal"
    assert {"MILK", "BREAD"} <= set(_items(alice))


def test_together_items_come_from_contributors_baskets_only(alice, charlie, catalog, frozen):
    weekly_history(alice.customer, catalog)
    # Charlie always buys butter with his milk, and shares his history.
    for k in range(6):
        shop(charlie.customer, NOW - timedelta(days=3 + 7 * k), [catalog.milk, catalog.butter])
    grant(alice, PREDICTIONS)
    grant(charlie, MODEL_IMPROVEMENT)
    services.refresh_forecasts(user_ids=[alice.pk])
    butter = ListItem.objects.get(shopping_list__user=alice, product=catalog.butter)
    assert butter.kind == "together"
    assert butter.because_of == catalog.milk


def test_no_together_items_when_nobody_shares_their_history(alice, charlie, catalog, frozen):
    weekly_history(alice.customer, catalog)
    for k in range(6):
        shop(charlie.customer, NOW - timedelta(days=3 + 7 * k), [catalog.milk, catalog.butter])
    grant(alice, PREDICTIONS)
    services.refresh_forecasts(user_ids=[alice.pk])
    assert not ListItem.objects.filter(shopping_list__user=alice, kind="together").exists()


def test_withdrawing_predictions_deletes_suggestions_but_keeps_own_items(consenting_alice, frozen):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    services.add_own_item(user=consenting_alice, free_text="Candles")
    assert Forecast.objects.filter(user=consenting_alice).exists()
    withdraw(consenting_alice, PREDICTIONS)
    assert not Forecast.objects.filter(user=consenting_alice).exists()
    assert _items(consenting_alice) == {"Candles": ("own", "open")}
    assert not ItemAction.objects.filter(user=consenting_alice).exists()


def test_adding_a_product_already_on_the_list_makes_it_the_shoppers_own(consenting_alice, frozen):
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    milk = Forecast.objects.get(user=consenting_alice, product__sku="MILK").product
    item = services.add_own_item(user=consenting_alice, product=milk, quantity=Decimal("3"))
    assert (item.kind, item.quantity) == ("own", Decimal("3"))
    assert ListItem.objects.filter(shopping_list__user=consenting_alice, product=milk).count() == 1


@pytest.mark.parametrize(
    ("action", "days", "typed", "message"),
    [
        ("snooze", None, False, "Snooze"),
        ("snooze", 0, False, "Snooze"),
        ("still_have", None, True, "products"),
        ("dance", None, False, "Unknown"),
        ("add", None, False, "suggestion"),
    ],
)
def test_actions_that_do_not_apply_are_refused(consenting_alice, action, days, typed, message):
    if typed:
        item = services.add_own_item(user=consenting_alice, free_text="Candles")
    else:
        item = services.add_own_item(user=consenting_alice, product=alice_product(consenting_alice))
    with pytest.raises(services.ActionError, match=message):
        services.apply_item_action(user=consenting_alice, item=item, action=action, days=days)
    assert ListItem.objects.filter(pk=item.pk).exists()
    assert not ItemAction.objects.filter(user=consenting_alice).exists()


def alice_product(user):
    from insights.catalog.models import Product

    return Product.objects.get(sku="MILK")


def test_stale_shoppers_are_those_with_old_lists_or_newer_orders(consenting_alice, charlie, frozen):
    grant(charlie, PREDICTIONS)
    services.refresh_forecasts(user_ids=[consenting_alice.pk])
    assert services.stale_user_ids() == [charlie.pk]
    shop(
        consenting_alice.customer,
        NOW + timedelta(hours=1),
        [consenting_alice_bread(consenting_alice)],
    )
    assert services.stale_user_ids(now=NOW + timedelta(hours=2)) == sorted(
        [consenting_alice.pk, charlie.pk]
    )
    assert consenting_alice.pk in services.stale_user_ids(now=NOW + timedelta(days=2))


def test_the_batch_together_step_agrees_with_rules_complete_list():
    import pandas as pd

    from insights.forecasts import rules

    table = pd.DataFrame(
        {
            "antecedent": [1, 1, 2, 2, 3, 4],
            "consequent": [5, 6, 5, 7, 8, 9],
            "support": [10] * 6,
            "confidence": [0.5, 0.4, 0.6, 0.4, 0.9, 0.3],
            "lift": [2.0, 1.5, 1.0, 3.0, 1.0, 1.0],
        }
    )
    on_list = pd.DataFrame({"user_id": [1, 1, 2, 2], "product_id": [1, 2, 2, 3]})
    never = pd.DataFrame({"user_id": [2], "product_id": [8]})
    batch = services._together(
        rules=table, on_list=on_list, exclude=pd.concat([on_list, never], ignore_index=True)
    )
    for user_id, listed, excluded in ((1, [1, 2], []), (2, [2, 3], [8])):
        expected = rules.complete_list(
            table, listed, exclude=excluded, top_n=services.TOGETHER_ITEMS
        )
        mine = batch[batch["user_id"] == user_id]
        assert list(zip(mine["product_id"], mine["because_of"], strict=True)) == list(
            zip(expected["product_id"], expected["because_of"], strict=True)
        )


def test_a_few_shoppers_history_is_the_same_rows_as_a_batchs(alice, alice_history):
    """Up to FEW_SHOPPERS the lines and their products are read apart; the rows are equal."""
    few = services.load_history(customer_ids=[alice.customer.pk], before=NOW)
    others = range(10**6, 10**6 + services.FEW_SHOPPERS)
    batch = services.load_history(customer_ids=[alice.customer.pk, *others], before=NOW)
    assert len(few) == 10 * 2 + 4  # milk and bread weekly, coffee 4 times; no fuel, no coupon
    key = ["order_id", "product_id"]
    pd.testing.assert_frame_equal(
        few.sort_values(key, ignore_index=True), batch.sort_values(key, ignore_index=True)
    )


def test_maybe_items_fill_the_list_to_about_a_basket_and_nothing_under_the_floor_is_listed():
    # Calibrated next-trip probabilities are small for most shoppers: the list is filled
    # best first to about 1.25 usual baskets (at least 8), but never with long shots.
    probabilities = [0.7, 0.4, 0.3, 0.2, 0.12, 0.1, 0.08, 0.07, 0.06, 0.055, 0.04, 0.03]
    predictions = pd.DataFrame(
        [
            {
                "user_id": user_id,
                "product_id": 100 + rank,
                "probability": probability,
                "expected_quantity": 1.0,
                "source": "personal",
                "rank": rank,
            }
            for user_id in (1, 2)
            for rank, probability in enumerate(probabilities, start=1)
        ]
    )
    users = pd.DataFrame({"user_id": [1, 2], "typical_basket_size": [4.0, 20.0]})
    empty = pd.DataFrame(columns=["user_id", "product_id"])

    chosen = services._choose_predicted(
        predictions=predictions, users=users, blocked=empty, decided=empty, payload={}
    )

    listed = chosen.groupby("user_id")["probability"].apply(list).to_dict()
    # A basket of 4: the list's 8 places, best first, though two more are above the floor.
    assert listed[1] == probabilities[:8]
    # A basket of 20: room for 25, but 4 % and 3 % are guesses and stay off.
    assert listed[2] == probabilities[:10]
