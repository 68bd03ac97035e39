"""The hourly reminder job: in-app notifications, one digest a day, quiet hours, languages."""

from datetime import UTC, date, datetime, time

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts.consent import is_allowed, set_consent
from accounts.models import ConsentEvent
from accounts.purposes import EMAIL, PANTRY
from insights.pantry import services
from insights.pantry.models import DigestLog, Notification, PantrySettings
from tests.factories import CustomerFactory, UserFactory
from tests.pantry.factories import PantryItemFactory, grant

# Item: bought 3 Nov, best before 17 Nov, due soon from 15 Nov (two days).
MORNING = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)  # 10:00 in Stockholm


@pytest.fixture
def alice_mail(alice):
    grant(alice, PANTRY, EMAIL)
    return alice


def test_an_item_entering_its_window_gets_one_notification_and_one_email_however_often_the_job_runs(
    alice_mail,
):
    item = PantryItemFactory(user=alice_mail)
    first = services.send_due_reminders(now=MORNING)
    second = services.send_due_reminders(now=MORNING.replace(hour=10))
    assert (first.notifications, first.digests) == (1, 1)
    assert (second.notifications, second.digests) == (0, 0)
    assert list(Notification.objects.values_list("user_id", "item_id", "kind")) == [
        (alice_mail.pk, item.pk, "due_soon")
    ]
    assert len(mail.outbox) == 1
    assert DigestLog.objects.get(user=alice_mail).day == date(2026, 11, 15)


def test_a_fresh_item_and_a_finished_item_get_no_notification(alice_mail):
    PantryItemFactory(user=alice_mail, bought_on=date(2026, 11, 10))  # due soon from 22 Nov
    used = PantryItemFactory(user=alice_mail, state="used")
    assert services.send_due_reminders(now=MORNING).notifications == 0
    assert not Notification.objects.filter(item=used).exists()
    assert mail.outbox == []


def test_a_new_date_after_freezing_gets_its_own_reminder(alice_mail):
    item = PantryItemFactory(user=alice_mail)
    services.send_due_reminders(now=MORNING)
    services.mark_frozen(
        item=item, on=date(2026, 11, 15), pantry_settings=services.get_settings(alice_mail)
    )
    item.refresh_from_db()
    later = datetime.combine(item.due_soon_on, time(9, 0), tzinfo=UTC)
    assert services.send_due_reminders(now=later).notifications == 1
    assert Notification.objects.filter(item=item).count() == 2


def test_the_shoppers_own_calendar_decides_when_the_window_starts(alice, charlie):
    # 23:30 UTC on 14 Nov is already 15 Nov in Stockholm, still 14 Nov in UTC.
    charlie.time_zone = "UTC"
    charlie.save()
    grant(alice, PANTRY)
    grant(charlie, PANTRY)
    PantryItemFactory(user=alice)
    PantryItemFactory(user=charlie)
    services.send_due_reminders(now=datetime(2026, 11, 14, 23, 30, tzinfo=UTC))
    assert list(Notification.objects.values_list("user_id", flat=True)) == [alice.pk]


def test_the_window_starts_at_local_midnight_on_the_night_summer_time_ends(alice):
    grant(alice, PANTRY)
    PantryItemFactory(user=alice, bought_on=date(2026, 10, 13))  # due soon from 25 Oct
    # 21:30 UTC on 24 Oct is 23:30 CEST: not yet. 22:30 UTC is 00:30 CEST on 25 Oct: due.
    assert (
        services.send_due_reminders(now=datetime(2026, 10, 24, 21, 30, tzinfo=UTC)).notifications
        == 0
    )
    assert (
        services.send_due_reminders(now=datetime(2026, 10, 24, 22, 30, tzinfo=UTC)).notifications
        == 1
    )


def test_no_email_in_quiet_hours_and_the_digest_follows_in_the_morning(alice_mail):
    PantryItemFactory(user=alice_mail)
    night = datetime(2026, 11, 15, 5, 0, tzinfo=UTC)  # 06:00 in Stockholm, quiet until 08:00
    stats = services.send_due_reminders(now=night)
    assert (stats.notifications, stats.digests, stats.skipped_quiet) == (1, 0, 1)
    assert mail.outbox == []
    services.send_due_reminders(now=datetime(2026, 11, 15, 7, 0, tzinfo=UTC))  # 08:00 local
    assert len(mail.outbox) == 1


def test_quiet_hours_are_the_shoppers_setting(alice_mail):
    PantryItemFactory(user=alice_mail)
    PantrySettings.objects.create(
        user=alice_mail, quiet_hours_start=time(9, 0), quiet_hours_end=time(12, 0)
    )
    services.send_due_reminders(now=MORNING)  # 10:00 local: inside 09–12
    assert mail.outbox == []


def test_at_most_one_digest_a_day_even_with_new_reminders_later_that_day(alice_mail):
    PantryItemFactory(user=alice_mail)
    services.send_due_reminders(now=MORNING)
    PantryItemFactory(
        user=alice_mail,
        bought_on=date(2026, 11, 3),
        best_before=date(2026, 11, 16),
        due_soon_on=date(2026, 11, 14),
    )
    services.send_due_reminders(now=MORNING.replace(hour=14))
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 1
    # The next day the second item's reminder goes out in that day's digest.
    services.send_due_reminders(now=datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    assert len(mail.outbox) == 2
    assert "Yoghurt" in mail.outbox[1].body


def test_two_beats_sending_the_same_days_digest_send_one_email(alice_mail):
    item = PantryItemFactory(user=alice_mail)
    notification = Notification.objects.create(
        user=alice_mail, kind="due_soon", item=item, dedupe_key="k"
    )
    day = date(2026, 11, 15)
    assert (
        services.send_digest(user=alice_mail, day=day, notifications=[notification], now=MORNING)
        is True
    )
    assert (
        services.send_digest(user=alice_mail, day=day, notifications=[notification], now=MORNING)
        is False
    )
    assert len(mail.outbox) == 1
    assert DigestLog.objects.filter(user=alice_mail, day=day).count() == 1


def test_a_digest_already_logged_for_the_day_by_another_beat_is_not_sent_again(alice_mail):
    item = PantryItemFactory(user=alice_mail)
    notification = Notification.objects.create(
        user=alice_mail, kind="due_soon", item=item, dedupe_key="k"
    )
    DigestLog.objects.create(user=alice_mail, day=date(2026, 11, 15))
    assert (
        services.send_digest(
            user=alice_mail, day=date(2026, 11, 15), notifications=[notification], now=MORNING
        )
        is False
    )
    assert services.send_due_reminders(now=MORNING).digests == 0
    assert mail.outbox == []


def test_a_failed_send_leaves_no_log_so_the_next_run_retries(alice_mail, charlie, monkeypatch):
    grant(charlie, PANTRY, EMAIL)
    PantryItemFactory(user=alice_mail)
    PantryItemFactory(user=charlie)
    original = services.EmailMultiAlternatives.send

    def broken_for_alice(message, *args, **kwargs):
        if message.to == [alice_mail.email]:
            raise ConnectionError("SMTP down")
        return original(message, *args, **kwargs)

    monkeypatch.setattr(services.EmailMultiAlternatives, "send", broken_for_alice)
    stats = services.send_due_reminders(now=MORNING)
    assert (stats.digests, stats.failed) == (1, 1)
    assert list(DigestLog.objects.values_list("user_id", flat=True)) == [charlie.pk]
    assert [m.to for m in mail.outbox] == [[charlie.email]]
    mail.outbox.clear()
    monkeypatch.undo()
    services.send_due_reminders(now=MORNING.replace(hour=10))
    assert len(mail.outbox) == 1


def test_without_email_consent_no_email_is_ever_sent(alice):
    grant(alice, PANTRY)
    item = PantryItemFactory(user=alice)
    services.send_due_reminders(now=MORNING)
    notification = Notification.objects.get(user=alice)
    assert (
        services.send_digest(user=alice, day=date(2026, 11, 15), notifications=[notification])
        is False
    )
    assert mail.outbox == []
    assert Notification.objects.get(item=item).emailed_at is None


def test_without_pantry_consent_nothing_is_notified(alice):
    grant(alice, EMAIL)
    PantryItemFactory(user=alice)
    assert services.send_due_reminders(now=MORNING).notifications == 0
    assert mail.outbox == []


def test_the_digest_is_in_english_with_text_html_and_one_click_unsubscribe(alice_mail):
    PantryItemFactory(user=alice_mail)
    services.send_due_reminders(now=MORNING)
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "Use soon: 1 item in your pantry"
    assert "Yoghurt: best before Tuesday 17 November" in message.body
    assert "Bought 3 Nov; Yoghurt keeps about 14 days." in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "Tuesday 17 November" in html
    assert " style=" not in html
    unsubscribe_path = reverse(
        "pantry:unsubscribe", kwargs={"token": services.unsubscribe_token(alice_mail)}
    )
    assert message.extra_headers["List-Unsubscribe"] == f"<http://127.0.0.1:8000{unsubscribe_path}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_path in message.body and unsubscribe_path in html


def test_the_digest_is_rendered_in_the_shoppers_language(alice_mail, monkeypatch):
    alice_mail.language = "sv"
    alice_mail.save()
    PantryItemFactory(user=alice_mail)
    seen = []
    original = services.render_to_string

    def spy(template_name, context=None, *args, **kwargs):
        seen.append(translation.get_language())
        return original(template_name, context, *args, **kwargs)

    monkeypatch.setattr(services, "render_to_string", spy)
    with translation.override("en"):
        services.send_due_reminders(now=MORNING)
        assert translation.get_language() == "en"
    assert seen == ["sv", "sv", "sv"]
    message = mail.outbox[0]
    # Day and month names come from Django's own Swedish catalogue.
    assert "tisdag 17 november" in message.body
    assert "Tuesday" not in message.body
    assert "tisdag 17 november" in message.alternatives[0][0]
    assert 'lang="sv"' in message.alternatives[0][0]


def test_unsubscribe_asks_first_then_records_a_withdrawal_and_stops_email(client, alice_mail):
    PantryItemFactory(user=alice_mail)
    url = reverse("pantry:unsubscribe", kwargs={"token": services.unsubscribe_token(alice_mail)})
    page = client.get(url)
    assert page.status_code == 200
    assert b"alice@example.com" in page.content
    assert is_allowed(alice_mail, EMAIL)
    response = client.post(url)
    assert response.status_code == 200
    assert not is_allowed(alice_mail, EMAIL)
    event = ConsentEvent.objects.filter(user=alice_mail, purpose=EMAIL).first()
    assert (event.granted, event.method) == (False, "unsubscribe")
    services.send_due_reminders(now=MORNING)
    assert mail.outbox == []
    assert Notification.objects.filter(user=alice_mail).count() == 1


def test_one_click_unsubscribe_works_without_a_session_or_csrf_token(alice_mail):
    from django.test import Client

    url = reverse("pantry:unsubscribe", kwargs={"token": services.unsubscribe_token(alice_mail)})
    response = Client(enforce_csrf_checks=True).post(
        url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert not is_allowed(alice_mail, EMAIL)


def test_a_forged_unsubscribe_token_is_a_404(client, alice_mail):
    token = services.unsubscribe_token(alice_mail)
    assert (
        client.get(reverse("pantry:unsubscribe", kwargs={"token": token[:-2] + "xx"})).status_code
        == 404
    )
    assert (
        client.post(reverse("pantry:unsubscribe", kwargs={"token": "nonsense"})).status_code == 404
    )
    assert is_allowed(alice_mail, EMAIL)


def _shoppers(n, start=0):
    users = []
    for i in range(start, start + n):
        user = UserFactory(email=f"bulk{i}@example.com")
        CustomerFactory(user=user)
        grant(user, PANTRY)
        for _ in range(3):
            PantryItemFactory(user=user)
        users.append(user)
    return users


def test_the_job_costs_the_same_queries_for_two_shoppers_as_for_six(db):
    _shoppers(2)
    with CaptureQueriesContext(connection) as two:
        assert services.send_due_reminders(now=MORNING).notifications == 6
    Notification.objects.all().delete()
    _shoppers(4, start=2)
    with CaptureQueriesContext(connection) as six:
        assert services.send_due_reminders(now=MORNING).notifications == 18
    assert len(six.captured_queries) == len(two.captured_queries)


def test_withdrawing_email_between_runs_stops_the_digest(alice_mail):
    PantryItemFactory(user=alice_mail)
    set_consent(user=alice_mail, purpose=EMAIL, granted=False, method="consent_centre")
    services.send_due_reminders(now=MORNING)
    assert mail.outbox == []
