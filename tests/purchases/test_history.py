"""The history page: own orders only, months with totals, empty states, htmx, fixed queries."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)

HISTORY = reverse("purchases:history")


def order_for(user, *, at, total="100.00", saved="0.00", **kwargs):
    return OrderFactory(
        customer=user.customer,
        placed_at=at,
        total_amount=Decimal(total),
        total_discount=Decimal(saved),
        **kwargs,
    )


@pytest.mark.django_db
def test_it_asks_for_a_login(client):
    response = client.get(HISTORY)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_it_shows_only_the_shoppers_own_orders(alice_client, alice, charlie):
    mine = order_for(alice, at=datetime(2026, 10, 5, 9, 0, tzinfo=UTC), store_id="Alvik")
    theirs = order_for(charlie, at=datetime(2026, 10, 6, 9, 0, tzinfo=UTC), store_id="Bromma")

    response = alice_client.get(HISTORY)

    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("purchases:order", args=[mine.pk]) in body
    assert reverse("purchases:order", args=[theirs.pk]) not in body
    assert "Store Alvik" in body
    assert "Bromma" not in body


def test_it_groups_orders_by_local_month_newest_first(alice_client, alice):
    # 22:30 UTC on 31 October is 23:30 on the 31st in Stockholm (CET after the DST change),
    # while 23:30 UTC on 30 September is already 1 October at 01:30 CEST.
    order_for(alice, at=datetime(2026, 9, 30, 23, 30, tzinfo=UTC), total="10.00")
    order_for(alice, at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC), total="20.00")
    order_for(alice, at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC), total="40.00")

    response = alice_client.get(HISTORY)

    months = response.context["months"]
    assert [(m.start.year, m.start.month) for m in months] == [(2026, 11), (2026, 10)]
    assert months[1].order_count == 2
    assert months[1].spent == Decimal("30.00")
    body = response.content.decode()
    assert body.index("November 2026") < body.index("October 2026")
    assert "September 2026" not in body


def test_a_months_totals_cover_the_whole_month_even_across_pages(alice_client, alice):
    start = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    for day in range(30):
        order_for(alice, at=start + timedelta(days=day), total="10.00", saved="1.50")

    first = alice_client.get(HISTORY).context
    second = alice_client.get(HISTORY, {"page": 2}).context

    assert len(first["months"][0].orders) == 25
    assert len(second["months"][0].orders) == 5
    for page in (first, second):
        month = page["months"][0]
        assert month.order_count == 30
        assert month.spent == Decimal("300.00")
        assert month.saved == Decimal("45.00")
        assert month.continues


def test_an_order_row_shows_time_channel_store_lines_paid_and_saved(alice_client, alice):
    order = order_for(
        alice,
        at=datetime(2026, 7, 3, 15, 5, tzinfo=UTC),  # 17:05 in Stockholm (CEST)
        total="1234.50",
        saved="12.25",
        channel="web",
        store_id="Web",
        line_count=7,
    )

    body = alice_client.get(HISTORY).content.decode()

    assert "Fri 3 Jul, 17:05" in body
    assert 'class="badge web"' in body
    assert "7 items" in body
    assert "SEK\xa01,234.50" in body
    assert "saved SEK\xa012.25" in body
    assert reverse("purchases:order", args=[order.pk]) in body


def test_an_htmx_request_gets_only_the_results_fragment(alice_client, alice):
    order_for(alice, at=datetime(2026, 10, 5, 9, 0, tzinfo=UTC))

    fragment = alice_client.get(HISTORY, headers={"HX-Request": "true"})
    page = alice_client.get(HISTORY)

    assert "<html" not in fragment.content.decode()
    assert fragment.content.decode().lstrip().startswith('<div id="history-results"')
    assert "<html" in page.content.decode()
    assert 'id="history-results"' in page.content.decode()
    assert "HX-Request" in fragment["Vary"]


def test_the_filter_form_updates_through_htmx_and_works_without_it(alice_client, alice):
    order_for(alice, at=datetime(2026, 10, 5, 9, 0, tzinfo=UTC))

    body = alice_client.get(HISTORY).content.decode()

    assert f'action="{HISTORY}"' in body
    assert f'hx-get="{HISTORY}"' in body
    assert 'hx-target="#history-results"' in body
    assert 'hx-push-url="true"' in body


def test_an_htmx_filter_change_pushes_a_url_without_the_empty_fields(alice_client, alice):
    order_for(alice, at=datetime(2026, 10, 5, 9, 0, tzinfo=UTC))

    response = alice_client.get(
        HISTORY,
        {"q": " milk ", "from": "", "to": "", "channel": "store", "category": ""},
        headers={"HX-Request": "true"},
    )

    assert response["HX-Push-Url"] == f"{HISTORY}?q=milk&channel=store"

    # The form is outside the fragment, so the way back lives inside it.
    matching = alice_client.get(HISTORY, {"channel": "store"}, headers={"HX-Request": "true"})
    assert f'<a href="{HISTORY}">Clear filters</a>' in matching.content.decode()


def test_pagination_links_keep_the_filters(alice_client, alice):
    for day in range(30):
        order_for(alice, at=datetime(2026, 10, 1, 8, 0, tzinfo=UTC) + timedelta(days=day))

    body = alice_client.get(HISTORY, {"channel": "store", "to": ""}).content.decode()

    assert 'href="?channel=store&amp;page=2"' in body
    assert "More from this month on the next page." in body
    assert 'hx-get="?channel=store&amp;page=2"' in body


def test_a_login_without_a_customer_is_sent_to_link_a_card(client, db):
    user = UserFactory(email="nocard@example.com")
    client.force_login(user)

    response = client.get(HISTORY)

    body = response.content.decode()
    assert response.context["state"] == "unlinked"
    assert "Link your store card" in body
    assert reverse("accounts:link") in body
    assert '<form class="card filters' not in body


def test_a_linked_shopper_without_orders_is_told_receipts_will_come(alice_client, alice):
    response = alice_client.get(HISTORY)

    assert response.context["state"] == "no_orders"
    assert "No receipts yet" in response.content.decode()


def test_filters_that_match_nothing_offer_to_clear_them(alice_client, alice):
    order_for(alice, at=datetime(2026, 10, 5, 9, 0, tzinfo=UTC), channel="store")

    response = alice_client.get(HISTORY, {"channel": "web"})

    body = response.content.decode()
    assert response.context["state"] == "no_match"
    assert "No orders match these filters" in body
    assert "Clear filters" in body


def test_a_bad_parameter_is_reported_and_the_others_still_apply(alice_client, alice):
    order_for(alice, at=datetime(2026, 10, 5, 9, 0, tzinfo=UTC), channel="store")
    order_for(alice, at=datetime(2026, 10, 6, 9, 0, tzinfo=UTC), channel="web")

    response = alice_client.get(HISTORY, {"channel": "web", "from": "yesterday"})

    assert response.status_code == 200
    assert "Some filters could not be used" in response.content.decode()
    assert response.context["page_obj"].paginator.count == 1


def _shopper_with_orders(count):
    user = UserFactory()
    customer = CustomerFactory(user=user)
    milk, bread = ProductFactory(name="Oat milk"), ProductFactory(name="Rye bread")
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    for n in range(count):
        order = OrderFactory(customer=customer, placed_at=start + timedelta(days=5 * n))
        OrderLineFactory(order=order, line_no=1, product=milk)
        OrderLineFactory(order=order, line_no=2, product=bread)
    return user, milk


@pytest.mark.parametrize("orders", [3, 60])
def test_the_page_runs_a_fixed_number_of_queries(client, db, django_assert_num_queries, orders):
    # session, user, customer linked?, categories bought, count, page, month totals,
    # the header bell's unread count
    user, milk = _shopper_with_orders(orders)
    client.force_login(user)
    department = milk.category.department_id

    with django_assert_num_queries(8):
        response = client.get(HISTORY, {"department": department, "q": "oat", "from": "2026-01-01"})

    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count == orders


@pytest.mark.parametrize("orders", [3, 60])
def test_an_htmx_filter_change_skips_the_category_choices(
    client, db, django_assert_num_queries, orders
):
    # session, user, customer linked?, count, page, month totals: the fragment draws no
    # selects, so the shopper's categories are not looked up (and no header, so no bell)
    user, milk = _shopper_with_orders(orders)
    client.force_login(user)

    with django_assert_num_queries(6):
        response = client.get(
            HISTORY, {"category": milk.category_id, "page": 1}, headers={"HX-Request": "true"}
        )

    html = response.content.decode()
    assert response.status_code == 200
    assert f"{orders} orders match your filters" in html
    assert "<select" not in html


def test_an_htmx_category_filter_still_narrows_without_the_choices(client, db):
    user, milk = _shopper_with_orders(2)
    other = OrderFactory(customer=user.customer)
    OrderLineFactory(order=other, line_no=1)  # a product in another category
    client.force_login(user)

    response = client.get(HISTORY, {"category": milk.category_id}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "2 orders match your filters" in html
    assert reverse("purchases:order", args=[other.pk]) not in html


@pytest.mark.parametrize("orders", [3, 60])
def test_the_order_page_runs_a_fixed_number_of_queries(
    client, db, django_assert_num_queries, orders
):
    user, _ = _shopper_with_orders(1)
    order = user.customer.orders.get()
    for n in range(orders):
        OrderLineFactory(order=order, line_no=10 + n)
    client.force_login(user)

    # session, user, order, lines with product, category and department, bell
    with django_assert_num_queries(5):
        response = client.get(reverse("purchases:order", args=[order.pk]))

    assert len(response.context["lines"]) == orders + 2
