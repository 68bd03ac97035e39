"""The habits page and GET /api/v1/me/habits: owner, another shopper, no consent, htmx."""

import re
from datetime import UTC, datetime
from unittest import mock

import pytest
import time_machine
from django.urls import reverse

from insights.habits import tasks
from insights.habits.models import HabitHighlight, HabitSnapshot
from tests.habits.factories import grant_insights, shop

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
URL = reverse("habits:index")
API = "/api/v1/me/habits"


@pytest.fixture
def alice_habits(alice):
    shop(alice, start=datetime(2026, 8, 3, 9, tzinfo=UTC), trips=30)
    grant_insights(alice)
    with time_machine.travel(NOW, tick=False):
        tasks.refresh_habits_task(alice.pk)
    snapshot = HabitSnapshot.objects.get(user=alice, period="3m")
    HabitHighlight.objects.create(
        snapshot=snapshot,
        user=alice,
        key="new_favourite:1",
        kind="new_favourite",
        params={
            "product": "Oat milk",
            "product_id": 1,
            "times": 6,
            "weeks": 5,
            "before": 0,
            "window_start": "2026-08-02",
            "window_end": "2026-11-01",
        },
    )
    return alice


def test_without_consent_the_page_is_the_gate(alice_client):
    response = alice_client.get(URL)
    assert response.status_code == 200
    assert b'id="feature-gate"' in response.content
    assert not HabitSnapshot.objects.exists()


def test_the_owner_sees_charts_tables_and_highlights(alice_habits, client):
    client.force_login(alice_habits)
    response = client.get(URL, {"period": "3m"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert 'id="chart-monthly"' in body and 'id="chart-heatmap"' in body
    assert "A new favourite: Oat milk, 6 times in 5 weeks." in body
    assert '<span class="stat-value">SEK\xa01,500.00</span>' in body
    assert "style=" not in body and "<script>" not in body
    assert "/history/?" in body  # bars link to the narrowed history


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            {
                "spent": "SEK\xa01,500.00",
                "basket": "SEK\xa050.00",
                "top": 'Oat milk</a><span class="num">SEK\xa0750.00</span>',
                "saved": "You saved SEK\xa075.00 (5% of the full price): SEK\xa075.00 in discounts "
                "and SEK\xa00.00 with coupons.",
                "headers": ("Amounts in SEK.", "Spend (SEK)", "Average basket (SEK)"),
                "trend": "SEK\xa050.00 per basket",
            },
        ),
        (
            "sv",
            {
                "spent": "1\xa0500,00\xa0kr",
                "basket": "50,00\xa0kr",
                "top": 'Oat milk</a><span class="num">750,00\xa0kr</span>',
                "saved": "Du sparade 75,00\xa0kr (5\xa0% av ordinarie pris): 75,00\xa0kr i "
                "rabatter och 0,00\xa0kr med kuponger.",
                "headers": ("Belopp i kr.", "Belopp (kr)", "Genomsnittlig varukorg (kr)"),
                "trend": "50,00\xa0kr per varukorg",
            },
        ),
    ],
)
def test_every_amount_is_written_as_money_in_the_shoppers_language(
    alice_habits, client, language, expected
):
    alice_habits.language = language
    alice_habits.save(update_fields=["language"])
    client.force_login(alice_habits)
    body = client.get(URL, {"period": "3m"}).content.decode()
    assert f'<span class="stat-value">{expected["spent"]}</span>' in body
    assert f'<span class="stat-value">{expected["basket"]}</span>' in body
    assert expected["top"] in body  # the top products by spend
    assert expected["saved"] in body
    for header in expected["headers"]:
        assert header in body
    assert expected["trend"] in body  # the basket chart's bar titles
    # No amount is written the old way, "1,500.00 SEK" or "1 500,00 SEK".
    assert not re.search(r"\d[ \xa0]SEK", body)
    if language == "sv":
        assert "SEK" not in body  # Swedish says kr, even on the charts' axes
        # Shares too: "50 %" with a no-break space, in the table, the chart and channels.
        assert not re.search(r"\d%", re.sub(r"<style.*?</style>|<svg[^>]*>", "", body, flags=re.S))
        assert body.count("\xa0%") >= 4


def test_with_hx_request_only_the_fragment_comes_back(alice_habits, client):
    client.force_login(alice_habits)
    response = client.get(URL, {"period": "4w"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="habits-body"')
    assert 'hx-trigger="every 2s"' not in body


def test_the_page_reads_stored_rows_in_a_fixed_number_of_queries(
    alice_habits, client, django_assert_num_queries
):
    client.force_login(alice_habits)
    # session, user, consent, snapshot, highlights, the header bell's unread count
    with django_assert_num_queries(6):
        response = client.get(URL, {"period": "12m"})
    assert response.status_code == 200


def test_a_new_custom_range_is_queued_and_the_fragment_polls_until_ready(
    alice_habits, client, django_capture_on_commit_callbacks
):
    client.force_login(alice_habits)
    with (
        mock.patch.object(tasks.refresh_habits_task, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.get(
            URL,
            {"period": "custom", "from": "2026-09-01", "to": "2026-09-30"},
            headers={"HX-Request": "true"},
        )
    apply_async.assert_called_once_with(args=[alice_habits.pk])
    body = response.content.decode()
    assert 'hx-trigger="every 2s"' in body
    snapshot = HabitSnapshot.objects.get(user=alice_habits, period="2026-09-01_2026-09-30")
    assert snapshot.status == HabitSnapshot.Status.COMPUTING
    with time_machine.travel(NOW, tick=False):
        tasks.refresh_habits_task(alice_habits.pk)
    response = client.get(
        URL,
        {"period": "custom", "from": "2026-09-01", "to": "2026-09-30"},
        headers={"HX-Request": "true"},
    )
    assert 'hx-trigger="every 2s"' not in response.content.decode()
    assert HabitSnapshot.objects.get(pk__isnull=False, user=alice_habits, period=snapshot.period)


def test_a_bad_custom_range_says_so(alice_habits, client):
    client.force_login(alice_habits)
    response = client.get(URL, {"period": "custom", "from": "2026-09-30", "to": "2026-09-01"})
    assert "The range ends before it starts." in response.content.decode()


def test_a_thin_history_explains_what_will_appear(alice, client):
    shop(alice, start=datetime(2026, 10, 20, 9, tzinfo=UTC), trips=2)
    grant_insights(alice)
    with time_machine.travel(NOW, tick=False):
        tasks.refresh_habits_task(alice.pk)
    client.force_login(alice)
    body = client.get(URL, {"period": "4w"}).content.decode()
    assert "A first look at your habits" in body
    assert "once two periods each have four trips" in body


def test_the_owner_dismisses_a_highlight_with_htmx_and_without(alice_habits, client):
    client.force_login(alice_habits)
    highlight = HabitHighlight.objects.get(user=alice_habits)
    url = reverse("habits:dismiss", args=[highlight.pk])
    response = client.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.content == b""
    highlight.refresh_from_db()
    assert highlight.dismissed_at is not None
    response = client.post(url, {"next": "/habits/?period=4w"})
    assert response.status_code == 302 and response["Location"] == "/habits/?period=4w"
    response = client.post(url, {"next": "https://evil.example/"})
    assert response["Location"] == URL


def test_charlie_cannot_dismiss_alices_highlight(alice_habits, charlie, client):
    grant_insights(charlie)
    client.force_login(charlie)
    highlight = HabitHighlight.objects.get(user=alice_habits)
    response = client.post(reverse("habits:dismiss", args=[highlight.pk]))
    assert response.status_code == 404
    highlight.refresh_from_db()
    assert highlight.dismissed_at is None


def test_charlie_sees_only_his_own_empty_habits(alice_habits, charlie, client):
    grant_insights(charlie)
    with time_machine.travel(NOW, tick=False):
        tasks.refresh_habits_task(charlie.pk)
    client.force_login(charlie)
    body = client.get(URL).content.decode()
    assert "Oat milk" not in body
    assert "Nothing bought in this period yet" in body
    data = client.get(API).json()
    assert data["summary"]["totals"]["trips"] == 0
    assert data["highlights"] == []


def test_the_api_returns_the_stored_aggregates_and_highlights(alice_habits, client):
    client.force_login(alice_habits)
    response = client.get(API, {"period": "3m"})
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "fresh"
    assert data["summary"]["totals"]["spend"] == "1500.00"
    assert data["highlights"][0]["text"] == "A new favourite: Oat milk, 6 times in 5 weeks."


def test_the_api_without_consent_is_a_403_that_says_why(alice_client):
    response = alice_client.get(API)
    assert response.status_code == 403
    assert "Habit summaries are off" in response.json()["detail"]


def test_the_api_rejects_an_unknown_period(alice_habits, client):
    client.force_login(alice_habits)
    assert client.get(API, {"period": "5y"}).status_code == 400


def test_the_api_needs_a_login(client, db):
    assert client.get(API).status_code == 403
