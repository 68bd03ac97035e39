"""The list page: gate, aisles, confidence and evidence, htmx actions with plain fallbacks."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.purposes import PREDICTIONS
from insights.forecasts.models import Forecast, ItemAction, ListItem, ShoppingList
from insights.purchases.models import PendingRefresh
from tests.factories import ProductFactory
from tests.forecasts.conftest import NOW, grant
from tests.forecasts.factories import scored_last_list, stored_list

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def consenting(alice, alice_client, frozen):
    grant(alice, PREDICTIONS)
    return alice_client


def test_it_asks_to_log_in(client):
    response = client.get(reverse("forecasts:index"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_without_consent_it_explains_the_feature_and_offers_to_switch_it_on(alice, alice_client):
    stored_list(alice)
    response = alice_client.get(reverse("forecasts:index"))
    assert response.status_code == 200
    assert b"Predicted shopping list" in response.content
    assert b'name="purpose" value="predictions"' in response.content
    assert b"Product 000" not in response.content


def test_actions_without_consent_are_refused(alice, alice_client):
    _, items = stored_list(alice)
    url = reverse("forecasts:item_action", args=[items[0].pk])
    response = alice_client.post(url, {"action": "tick"})
    assert response.status_code == 403
    assert ListItem.objects.get(pk=items[0].pk).state == "open"


def test_the_page_groups_items_by_aisle_with_confidence_and_evidence(alice, consenting):
    stored_list(alice, n_items=6, departments=3)
    response = consenting.get(reverse("forecasts:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    # Aisle C has the lowest aisle order, so it comes first.
    assert html.index("Aisle C") < html.index("Aisle B") < html.index("Aisle A")
    assert 'title="80% likely you need it this trip"' in html
    assert ">high<" in html and ">likely<" in html and ">maybe<" in html
    assert "bought 7 times since May, about every 3 weeks, last 19 days ago" in html
    assert "For your shop around Thursday" in html


def test_htmx_gets_the_list_fragment_only(alice, consenting):
    stored_list(alice)
    response = consenting.get(reverse("forecasts:index"), **HX)
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="shopping-list"')


def test_while_computing_the_list_polls_and_stops_when_done(alice, consenting):
    shopping_list, _ = stored_list(alice, status="computing")
    ShoppingList.objects.filter(pk=shopping_list.pk).update(status_changed_at=NOW)
    polling = consenting.get(reverse("forecasts:index"), **HX).content.decode()
    assert 'hx-trigger="every 2s"' in polling
    assert "Updating your list" in polling
    ShoppingList.objects.filter(pk=shopping_list.pk).update(status="fresh")
    done = consenting.get(reverse("forecasts:index"), **HX).content.decode()
    assert "hx-trigger" not in done.split(">", 1)[0]
    assert "Updating your list" not in done


def test_orders_waiting_for_their_refresh_show_updating_until_it_begins(alice, consenting):
    # An order within the debounce window: its refresh is queued for the window's end.
    stored_list(alice)
    pending = PendingRefresh.objects.create(
        customer=alice.customer, due_at=NOW + timedelta(seconds=8)
    )
    waiting = consenting.get(reverse("forecasts:index"), **HX).content.decode()
    assert 'hx-trigger="every 2s"' in waiting.split(">", 1)[0]
    assert "Updating your list" in waiting
    assert consenting.get("/api/v1/me/shopping-list").json()["status"] == "computing"

    # The refresh began and finished: the list is fresh again and the polling stops.
    PendingRefresh.objects.filter(pk=pending.pk).update(due_at=None, last_started_at=NOW)
    done = consenting.get(reverse("forecasts:index"), **HX).content.decode()
    assert "hx-trigger" not in done.split(">", 1)[0]
    assert "Updating your list" not in done


def test_another_shoppers_waiting_orders_or_a_lost_claim_do_not_mark_the_list(
    alice, charlie, consenting
):
    stored_list(alice)
    PendingRefresh.objects.create(customer=charlie.customer, due_at=NOW)
    # A claim an hour old is a lost task (queued again by the next order), not an update.
    PendingRefresh.objects.create(customer=alice.customer, due_at=NOW - timedelta(minutes=61))
    html = consenting.get(reverse("forecasts:index"), **HX).content.decode()
    assert "hx-trigger" not in html.split(">", 1)[0]
    assert "Updating your list" not in html


def test_a_refresh_stuck_for_long_is_not_polled_forever(alice, consenting):
    shopping_list, _ = stored_list(alice, status="computing")
    ShoppingList.objects.filter(pk=shopping_list.pk).update(
        status_changed_at=NOW - timedelta(hours=1)
    )
    html = consenting.get(reverse("forecasts:index"), **HX).content.decode()
    assert 'hx-trigger="every 2s"' not in html


def test_ticking_with_a_plain_form_redirects_back(alice, consenting):
    _, items = stored_list(alice)
    response = consenting.post(
        reverse("forecasts:item_action", args=[items[0].pk]), {"action": "tick"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("forecasts:index")
    assert ListItem.objects.get(pk=items[0].pk).state == "ticked"
    assert ItemAction.objects.get(user=alice).action == "ticked"


def test_ticking_with_htmx_returns_the_updated_fragment(alice, consenting):
    _, items = stored_list(alice)
    response = consenting.post(
        reverse("forecasts:item_action", args=[items[0].pk]), {"action": "tick"}, **HX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f'id="item-{items[0].pk}"' in html
    assert "is-ticked" in html


def test_snoozing_logs_the_days_and_removes_the_item(alice, consenting):
    _, items = stored_list(alice)
    consenting.post(
        reverse("forecasts:item_action", args=[items[1].pk]), {"action": "snooze", "days": "14"}
    )
    action = ItemAction.objects.get(user=alice)
    assert (action.action, action.until) == ("snooze", NOW + timedelta(days=14))
    assert not ListItem.objects.filter(pk=items[1].pk).exists()


def test_a_refused_action_says_why(alice, consenting):
    _, items = stored_list(alice)
    url = reverse("forecasts:item_action", args=[items[0].pk])
    response = consenting.post(url, {"action": "snooze", "days": "0"}, **HX)
    assert b"Snooze for between 1 and 365 days." in response.content
    response = consenting.post(url, {"action": "snooze", "days": "0"}, follow=True)
    assert b"Snooze for between 1 and 365 days." in response.content


def test_charlie_cannot_act_on_alices_items(alice, charlie, client, frozen):
    _, items = stored_list(alice)
    grant(charlie, PREDICTIONS)
    client.force_login(charlie)
    response = client.post(reverse("forecasts:item_action", args=[items[0].pk]), {"action": "tick"})
    assert response.status_code == 404
    assert ListItem.objects.get(pk=items[0].pk).state == "open"


def test_charlie_does_not_see_alices_list(alice, charlie, client, frozen):
    stored_list(alice)
    grant(charlie, PREDICTIONS)
    client.force_login(charlie)
    response = client.get(reverse("forecasts:index"))
    assert b"Product 000" not in response.content
    assert b"Your first list is on its way" in response.content


def test_adding_free_text_and_a_found_product(alice, consenting):
    stored_list(alice)
    consenting.post(reverse("forecasts:add_item"), {"free_text": "Birthday candles"})
    oats = ProductFactory(sku="OATS", name="Rolled oats")
    response = consenting.post(reverse("forecasts:add_item"), {"product": oats.pk}, **HX)
    assert b"Rolled oats" in response.content
    assert b"Birthday candles" in response.content
    kinds = set(ListItem.objects.filter(kind="own").values_list("free_text", "product__sku"))
    assert kinds == {("Birthday candles", None), ("", "OATS")}


def test_adding_nothing_is_refused(alice, consenting):
    stored_list(alice)
    response = consenting.post(reverse("forecasts:add_item"), {"free_text": "  "}, follow=True)
    assert b"Choose a product or type what you need." in response.content
    assert not ListItem.objects.filter(kind="own").exists()


def test_search_suggests_products_as_a_fragment_or_a_page(alice, consenting):
    ProductFactory(sku="OATS", name="Rolled oats")
    ProductFactory(sku="OATM", name="Oat milk")
    fragment = consenting.get(reverse("forecasts:search"), {"q": "oat"}, **HX).content.decode()
    assert fragment.lstrip().startswith('<ul id="search-results"')
    assert "Rolled oats" in fragment and "Oat milk" in fragment
    page = consenting.get(reverse("forecasts:search"), {"q": "oat"}).content.decode()
    assert "<html" in page and "Rolled oats" in page


def test_search_leaves_out_never_listed_products(alice, consenting, catalog):
    fragment = consenting.get(reverse("forecasts:search"), {"q": "gas"}, **HX).content.decode()
    assert "Gasoline" not in fragment


def test_share_as_text_and_export_csv(alice, consenting):
    _, items = stored_list(alice, n_items=3)
    consenting.post(reverse("forecasts:item_action", args=[items[0].pk]), {"action": "tick"})
    text = consenting.get(reverse("forecasts:share"))
    assert text["Content-Type"].startswith("text/plain")
    body = text.content.decode()
    assert "[ ] Product 001 × 2" in body
    assert "Product 000" not in body  # ticked off
    csv = consenting.get(reverse("forecasts:export"))
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("department,item,sku,quantity,kind,state,confidence")
    assert len(lines) == 4


def test_print_page_lists_open_items(alice, consenting):
    stored_list(alice, n_items=2)
    response = consenting.get(reverse("forecasts:print"))
    assert b"Product 000" in response.content and b"Product 001" in response.content


def test_it_shows_how_the_last_list_did(alice, consenting):
    stored_list(alice)
    scored_last_list(alice, n_items=12, n_bought=8)
    response = consenting.get(reverse("forecasts:index"))
    assert b"8 of the 12 items on your last list were in your next shop" in response.content


def test_popular_suggestions_are_labelled_and_carry_no_confidence(alice, consenting):
    shopping_list, _ = stored_list(alice, n_items=0)
    product = ProductFactory(sku="POP", name="Bananas")
    ListItem.objects.create(
        shopping_list=shopping_list, product=product, kind="predicted", added_by="model"
    )
    html = consenting.get(reverse("forecasts:index")).content.decode()
    assert "Popular with other shoppers" in html
    assert "likely you need it" not in html


def test_refresh_button_marks_the_list_as_updating(
    alice, consenting, django_capture_on_commit_callbacks
):
    stored_list(alice)
    with django_capture_on_commit_callbacks() as callbacks:
        response = consenting.post(reverse("forecasts:refresh"), **HX)
    assert len(callbacks) == 1
    assert 'hx-trigger="every 2s"' in response.content.decode()
    assert ShoppingList.objects.get(user=alice).status == "computing"


def _queries_for_page(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("forecasts:index"))
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_for_3_items_as_for_30(alice, consenting):
    stored_list(alice, n_items=3)
    small = _queries_for_page(consenting)
    ListItem.objects.all().delete()
    Forecast.objects.all().delete()
    stored_list(alice, n_items=30, departments=8)
    scored_last_list(alice)
    large = _queries_for_page(consenting)
    assert small == large
    # session, login, consent, list, items (+products, aisles), forecasts, last list,
    # and the header bell's unread count.
    assert large <= 8


def test_search_puts_what_the_shopper_buys_first(alice, consenting):
    ProductFactory(sku="OATA", name="Aseptic oat drink")
    _, items = stored_list(alice, n_items=1)
    items[0].product.name = "Zesty oat bar"
    items[0].product.save()
    fragment = consenting.get(reverse("forecasts:search"), {"q": "oat"}, **HX).content.decode()
    assert fragment.index("Zesty oat bar") < fragment.index("Aseptic oat drink")
