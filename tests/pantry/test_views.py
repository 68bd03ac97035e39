"""Pantry pages: gate, sections, htmx actions with fallbacks, notifications, calendar, API."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from accounts.consent import set_consent
from accounts.purposes import PANTRY
from insights.pantry import services
from insights.pantry.models import Notification, PantryItem, PantrySettings, ProductWithoutShelfLife
from tests.factories import CategoryFactory, ProductFactory
from tests.pantry.factories import PantryItemFactory, grant, yoghurt

TODAY = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("_frozen")


@pytest.fixture
def _frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def pantry_client(alice_client, alice):
    grant(alice, PANTRY)
    return alice_client


def _action(item, action):
    return reverse("pantry:item_action", kwargs={"pk": item.pk, "action": action})


def test_without_consent_the_page_explains_the_feature(alice_client):
    response = alice_client.get(reverse("pantry:index"))
    assert response.status_code == 200
    assert b'name="purpose" value="pantry"' in response.content


def test_the_page_shows_due_soon_expired_and_the_rest_by_category(pantry_client, alice):
    due = PantryItemFactory(user=alice)  # best before 17 Nov, due soon from 15 Nov
    expired = PantryItemFactory(
        user=alice,
        product=ProductFactory(sku="M", name="Mince", perishable=True),
        bought_on=date(2026, 11, 1),
        shelf_life_days=3,
        rule_days=3,
    )
    bread = ProductFactory(
        sku="B",
        name="Rye bread",
        perishable=True,
        shelf_life_days=6,
        category=CategoryFactory(name="Bakery"),
    )
    fresh = PantryItemFactory(
        user=alice, product=bread, bought_on=date(2026, 11, 14), shelf_life_days=6, rule_days=6
    )
    body = pantry_client.get(reverse("pantry:index")).content.decode()
    use_soon = body.index("Use soon")
    past = body.index("Past the date")
    bakery = body.index("Bakery")
    assert (
        use_soon
        < body.index(f'id="item-{due.pk}"')
        < past
        < body.index(f'id="item-{expired.pk}"')
        < bakery
        < body.index(f'id="item-{fresh.pk}"')
    )
    assert "Bought 3 Nov; Yoghurt keeps about 14 days." in body
    assert " style=" not in body


def test_a_pack_that_outlasts_its_date_shows_the_hint(pantry_client, alice):
    PantryItemFactory(user=alice, usual_days=21)
    body = pantry_client.get(reverse("pantry:index")).content.decode()
    assert "You usually take 21 days to finish this; it expires in 2 days." in body


def test_used_up_through_htmx_swaps_the_item_fragment(pantry_client, alice):
    item = PantryItemFactory(user=alice)
    response = pantry_client.post(_action(item, "used"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert body.strip().startswith(f'<li class="pantry-item is-done" id="item-{item.pk}"')
    assert "used up" in body
    item.refresh_from_db()
    assert (item.state, item.finished_on) == ("used", date(2026, 11, 15))


def test_every_items_buttons_post_to_that_items_own_action_urls(pantry_client, alice):
    first = PantryItemFactory(user=alice)
    second = PantryItemFactory(user=alice, product=ProductFactory(sku="M2", perishable=True))

    body = pantry_client.get(reverse("pantry:index")).content.decode()

    for item in (first, second):
        for action in ("used", "opened", "frozen", "thrown", "date", "remove"):
            url = _action(item, action)
            assert f'action="{url}" hx-post="{url}" hx-target="#item-{item.pk}"' in body
    done = pantry_client.post(_action(first, "used"), HTTP_HX_REQUEST="true").content.decode()
    assert f'hx-post="{_action(first, "restore")}"' in done


def test_used_up_without_htmx_redirects_to_the_page(pantry_client, alice):
    item = PantryItemFactory(user=alice)
    response = pantry_client.post(_action(item, "used"))
    assert response.status_code == 302
    assert response["Location"] == reverse("pantry:index")
    item.refresh_from_db()
    assert item.state == "used"


@pytest.mark.parametrize(
    ("share", "expected"), [("all", "1.00"), ("half", "0.50"), ("some", "0.25")]
)
def test_thrown_away_records_how_much(pantry_client, alice, share, expected):
    item = PantryItemFactory(user=alice, value=Decimal("40.00"))
    pantry_client.post(_action(item, "thrown"), {"share": share}, HTTP_HX_REQUEST="true")
    item.refresh_from_db()
    assert (item.state, item.thrown_share) == ("thrown", Decimal(expected))


@pytest.mark.parametrize(
    ("language", "amount", "month"),
    [("en", "SEK\xa01,788.60", "November 2026"), ("sv", "1\xa0788,60\xa0kr", "november 2026")],
)
def test_the_waste_summary_writes_money_as_the_history_does(
    pantry_client, alice, settings, language, amount, month
):
    settings.CURRENCY = "SEK"
    alice.language = language
    alice.save(update_fields=["language"])
    item = PantryItemFactory(user=alice, value=Decimal("3577.20"))
    services.mark_thrown(item=item, share=Decimal("0.5"), on=date(2026, 11, 10))
    body = pantry_client.get(reverse("pantry:index")).content.decode()
    assert f'<p class="waste-total"><strong>{amount}</strong>' in body
    assert f"<title>{month}: {amount}</title>" in body  # the bar's tooltip
    assert f"<dd><strong>{amount}</strong>" in body  # the month list under the chart
    assert f"Dairy {amount}</span>" in body  # ... and its split by category
    assert "<svg" in body and 'class="bar current"' in body
    assert not re.search(r"\d[ \xa0]SEK", body)  # never the old "20.00 SEK"
    if language == "sv":
        assert "SEK" not in body


@pytest.mark.parametrize(
    ("language", "done"),
    [
        ("en", "Yoghurt: thrown away (SEK\xa01,788.60 of waste)."),
        ("sv", "Yoghurt: slängd (1\xa0788,60\xa0kr i svinn)."),
    ],
)
def test_a_thrown_away_item_says_what_it_cost(pantry_client, alice, settings, language, done):
    settings.CURRENCY = "SEK"
    alice.language = language
    alice.save(update_fields=["language"])
    item = PantryItemFactory(user=alice, value=Decimal("3577.20"))
    response = pantry_client.post(
        _action(item, "thrown"), {"share": "half"}, HTTP_HX_REQUEST="true"
    )
    assert done in response.content.decode()


def test_opened_frozen_and_a_corrected_date_change_the_item(pantry_client, alice):
    item = PantryItemFactory(user=alice, bought_on=date(2026, 11, 13))  # best before 27 Nov
    body = pantry_client.post(_action(item, "opened"), HTTP_HX_REQUEST="true").content.decode()
    assert "Best before 19 Nov" in body  # opened 15 Nov + 4 days (the category's opened life)
    assert "Opened 15 Nov; keeps about 4 days once open." in body
    pantry_client.post(_action(item, "frozen"), HTTP_HX_REQUEST="true")
    item.refresh_from_db()
    assert item.best_before == date(2027, 2, 13)
    pantry_client.post(_action(item, "date"), {"best_before": "2026-11-30"}, HTTP_HX_REQUEST="true")
    item.refresh_from_db()
    assert (item.best_before, item.estimate_rule) == (date(2026, 11, 30), "corrected")


def test_a_date_before_the_purchase_is_refused_with_a_clear_error(pantry_client, alice):
    item = PantryItemFactory(user=alice)
    response = pantry_client.post(
        _action(item, "date"), {"best_before": "2026-10-01"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert b'role="alert">The date cannot be before the day it was bought.' in response.content
    item.refresh_from_db()
    assert item.best_before == date(2026, 11, 17)


def test_remove_and_undo(pantry_client, alice):
    item = PantryItemFactory(user=alice)
    pantry_client.post(_action(item, "remove"))
    item.refresh_from_db()
    assert item.state == "removed"
    pantry_client.post(_action(item, "restore"))
    item.refresh_from_db()
    assert item.state == "in_pantry"


def test_packs_bought_again_are_listed_folded_for_two_weeks_and_can_be_put_back(
    pantry_client, alice
):
    recent = PantryItemFactory(
        user=alice, state="replaced", finished_on=date(2026, 11, 10), bought_on=date(2026, 11, 1)
    )
    PantryItemFactory(  # replaced 15 days before TODAY: no longer listed
        user=alice,
        product=ProductFactory(sku="OLD", name="Old cheese", perishable=True),
        state="replaced",
        finished_on=date(2026, 10, 31),
    )
    PantryItemFactory(user=alice, product=ProductFactory(sku="F", name="Feta", perishable=True))
    body = pantry_client.get(reverse("pantry:index")).content.decode()
    section = body[body.index('id="pantry-replaced"') :]
    assert "Bought again: 1 earlier pack taken as used up" in section
    assert "Yoghurt: taken as used up, since you bought it again on 10 Nov." in section
    assert "Old cheese" not in body
    assert "1 item from your receipts" in body  # Feta; the replaced packs are not counted
    response = pantry_client.post(_action(recent, "restore"), HTTP_HX_REQUEST="true")
    assert b"Best before 15 Nov" in response.content  # back in the pantry, with its actions
    recent.refresh_from_db()
    assert (recent.state, recent.finished_on) == ("in_pantry", None)


def test_a_swedish_shopper_reads_the_bought_again_section_in_swedish(pantry_client, alice):
    alice.language = "sv"
    alice.save(update_fields=["language"])
    PantryItemFactory(user=alice, state="replaced", finished_on=date(2026, 11, 10))
    body = pantry_client.get(reverse("pantry:index")).content.decode()
    assert "Köpt igen: 1 tidigare förpackning räknas som slut" in body
    assert "Jag har den kvar" in body


@pytest.mark.parametrize(
    "action", ["used", "thrown", "opened", "frozen", "date", "remove", "restore"]
)
def test_another_shoppers_item_is_a_404_for_every_action(pantry_client, charlie, action):
    item = PantryItemFactory(user=charlie)
    response = pantry_client.post(
        _action(item, action), {"best_before": "2026-11-30", "share": "all"}
    )
    assert response.status_code == 404
    item.refresh_from_db()
    assert (item.state, item.best_before) == ("in_pantry", date(2026, 11, 17))


def test_actions_need_a_post(pantry_client, alice):
    item = PantryItemFactory(user=alice)
    assert pantry_client.get(_action(item, "used")).status_code == 405


def test_settings_are_saved_and_validated(pantry_client, alice):
    response = pantry_client.post(
        reverse("pantry:settings"),
        {"due_soon_days": "4", "quiet_hours_start": "22:00", "quiet_hours_end": "07:00"},
    )
    assert response.status_code == 302
    assert PantrySettings.objects.get(user=alice).due_soon_days == 4
    pantry_client.post(reverse("pantry:settings"), {"due_soon_days": "40"})
    assert PantrySettings.objects.get(user=alice).due_soon_days == 4


def test_notifications_list_and_mark_as_read_with_and_without_htmx(pantry_client, alice, charlie):
    item = PantryItemFactory(user=alice)
    mine = Notification.objects.create(
        user=alice, kind="due_soon", item=item, payload={"product": "Yoghurt"}, dedupe_key="a"
    )
    other = Notification.objects.create(
        user=charlie, kind="due_soon", payload={"product": "Secret"}, dedupe_key="c"
    )
    page = pantry_client.get(reverse("pantry:notifications")).content.decode()
    assert "Use soon: Yoghurt, best before 17 Nov." in page
    assert "Secret" not in page
    fragment = pantry_client.post(
        reverse("pantry:notification_read", kwargs={"pk": mine.pk}), HTTP_HX_REQUEST="true"
    )
    assert "<html" not in fragment.content.decode()
    assert f'id="notification-{mine.pk}"' in fragment.content.decode()
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert (
        pantry_client.post(reverse("pantry:notification_read", kwargs={"pk": other.pk})).status_code
        == 404
    )
    other.refresh_from_db()
    assert other.read_at is None


def test_mark_all_as_read_falls_back_to_a_redirect(pantry_client, alice):
    Notification.objects.create(user=alice, kind="due_soon", payload={}, dedupe_key="a")
    response = pantry_client.post(reverse("pantry:notifications_read_all"))
    assert response.status_code == 302
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()


def test_the_bell_counts_unread_notifications(pantry_client, alice, rf):
    from django.template.loader import render_to_string

    Notification.objects.create(user=alice, kind="due_soon", payload={}, dedupe_key="a")
    Notification.objects.create(user=alice, kind="due_soon", payload={}, dedupe_key="b")
    request = rf.get("/")
    request.user = alice
    html = render_to_string("pantry/_bell.html", {"user": alice, "request": request})
    assert "2 unread notifications" in html
    assert reverse("pantry:notifications") in html


def test_the_calendar_feed_lists_best_before_dates_behind_a_secret_revocable_url(
    pantry_client, client, alice
):
    PantryItemFactory(user=alice)
    PantryItemFactory(user=alice, state="used", product=yoghurt(sku="OLD", name="Old milk"))
    pantry_client.post(reverse("pantry:calendar"), {"action": "regenerate"})
    token = PantrySettings.objects.get(user=alice).calendar_token
    url = reverse("pantry:calendar_feed", kwargs={"token": token})
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [(str(e["summary"]), e.decoded("dtstart")) for e in events] == [
        ("Best before: Yoghurt", date(2026, 11, 17))
    ]
    pantry_client.post(reverse("pantry:calendar"), {"action": "regenerate"})
    assert client.get(url).status_code == 404
    pantry_client.post(reverse("pantry:calendar"), {"action": "revoke"})
    assert PantrySettings.objects.get(user=alice).calendar_token is None
    assert client.get(reverse("pantry:calendar_feed", kwargs={"token": "wrong"})).status_code == 404


def test_the_calendar_feed_stops_when_consent_is_withdrawn(pantry_client, client, alice):
    pantry_settings = services.regenerate_calendar_token(user=alice)
    set_consent(user=alice, purpose=PANTRY, granted=False, method="consent_centre")
    url = reverse("pantry:calendar_feed", kwargs={"token": pantry_settings.calendar_token})
    assert client.get(url).status_code == 404


def test_the_api_lists_the_shoppers_items_with_estimates(pantry_client, alice, charlie):
    item = PantryItemFactory(user=alice)
    PantryItemFactory(user=charlie)
    PantryItemFactory(user=alice, state="used")
    data = pantry_client.get("/api/v1/me/pantry").json()
    assert data["count"] == 1
    row = data["results"][0]
    assert row["id"] == item.pk
    assert row["best_before"] == "2026-11-17"
    assert row["status"] == "due_soon"
    assert row["estimate"] == {
        "rule": "product",
        "days": 14,
        "estimated_best_before": "2026-11-17",
        "text": "Bought 3 Nov; Yoghurt keeps about 14 days.",
    }
    assert row["product"]["name"] == "Yoghurt"
    assert pantry_client.get("/api/v1/me/pantry?state=used").json()["count"] == 1
    assert pantry_client.get("/api/v1/me/pantry?state=bogus").status_code == 400


def test_the_api_refuses_without_consent_or_login(alice_client, client):
    assert alice_client.get("/api/v1/me/pantry").status_code == 403
    assert client.get("/api/v1/me/pantry").status_code == 403


def test_perishable_products_without_a_shelf_life_are_listed_for_admins(db):
    gap = ProductFactory(sku="GAP", perishable=True, category=CategoryFactory(name="Unknown"))
    ProductFactory(
        sku="OK1", perishable=True, shelf_life_days=5, category=CategoryFactory(name="Unknown")
    )
    ProductFactory(
        sku="OK2",
        perishable=True,
        category=CategoryFactory(name="Dairy", default_shelf_life_days=10),
    )
    ProductFactory(sku="DRY", perishable=False, category=CategoryFactory(name="Unknown"))
    assert list(ProductWithoutShelfLife.objects.values_list("sku", flat=True)) == [gap.sku]


def test_the_admin_list_of_gaps_opens(admin_client, db):
    ProductFactory(
        sku="GAP", name="Mystery cheese", perishable=True, category=CategoryFactory(name="Unknown")
    )
    response = admin_client.get(reverse("admin:pantry_productwithoutshelflife_changelist"))
    assert response.status_code == 200
    assert b"Mystery cheese" in response.content
    assert PantryItem.objects.count() == 0


def _page_queries(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("pantry:index")).status_code == 200
    return len(queries.captured_queries)


def test_the_page_reads_a_fixed_number_of_queries_however_full_the_pantry(pantry_client, alice):
    PantryItemFactory(user=alice)
    services.get_settings(alice)
    few = _page_queries(pantry_client)
    for i in range(8):
        PantryItemFactory(
            user=alice,
            product=ProductFactory(
                sku=f"P{i}",
                name=f"Food {i}",
                perishable=True,
                shelf_life_days=5,
                category=CategoryFactory(name=f"Aisle {i}"),
            ),
        )
        services.mark_thrown(
            item=PantryItemFactory(user=alice, product=yoghurt()),
            share=Decimal("1"),
            on=date(2026, 11, 1),
        )
    assert _page_queries(pantry_client) == few


def test_building_many_pantries_skips_shoppers_without_consent(alice, charlie):
    from tests.factories import OrderFactory, OrderLineFactory

    grant(alice, PANTRY)
    for user in (alice, charlie):
        order = OrderFactory(
            customer=user.customer, placed_at=datetime(2026, 11, 14, 10, 0, tzinfo=UTC)
        )
        OrderLineFactory(order=order, product=yoghurt())
    assert services.build_pantries(user_ids=[alice.pk, charlie.pk]) == 1
    assert list(PantryItem.objects.values_list("user_id", flat=True)) == [alice.pk]


def test_quiet_hours_need_both_ends(pantry_client, alice):
    pantry_client.post(
        reverse("pantry:settings"),
        {"due_soon_days": "3", "quiet_hours_start": "22:00", "quiet_hours_end": ""},
    )
    pantry_settings = services.get_settings(alice)
    assert (pantry_settings.due_soon_days, pantry_settings.quiet_hours_end) == (
        2,
        datetime(2026, 1, 1, 8).time(),
    )
    pantry_client.post(
        reverse("pantry:settings"),
        {"due_soon_days": "3", "quiet_hours_start": "", "quiet_hours_end": ""},
    )
    pantry_settings.refresh_from_db()
    assert (pantry_settings.due_soon_days, pantry_settings.quiet_hours_start) == (3, None)


def test_a_bad_date_without_htmx_redirects_with_the_error(pantry_client, alice):
    item = PantryItemFactory(user=alice)
    response = pantry_client.post(_action(item, "date"), {"best_before": "not a date"}, follow=True)
    assert b"Enter a valid date." in response.content
    item.refresh_from_db()
    assert item.best_before == date(2026, 11, 17)
