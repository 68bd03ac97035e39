"""The admin: e-mail logins, customers with link codes, an append-only consent log."""

import pytest
from django.urls import reverse

from accounts.consent import current_text, set_consent
from accounts.models import ConsentEvent, PurposeText, User
from accounts.purposes import INSIGHTS

pytestmark = pytest.mark.django_db


def test_an_admin_adds_a_login_by_email_with_the_password_twice(admin_client):
    password = "a long and unusual passphrase"
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "Eva@Example.com",
            "name": "Eva",
            "language": "sv",
            "time_zone": "Europe/Stockholm",
            "usable_password": "true",
            "password1": password,
            "password2": password,
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    user = User.objects.get(email="eva@example.com")
    assert user.check_password(password)


def test_the_login_list_searches_email_and_name(admin_client, alice, charlie):
    response = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": "Andersson"})
    body = response.content.decode()
    assert "alice@example.com" in body
    assert "charlie@example.com" not in body


def test_a_login_and_a_customer_can_be_opened(admin_client, alice):
    assert (
        admin_client.get(reverse("admin:accounts_user_change", args=[alice.pk])).status_code == 200
    )
    url = reverse("admin:accounts_customer_change", args=[alice.customer.pk])
    assert admin_client.get(url).status_code == 200


def test_consent_events_can_be_read_but_not_added_changed_or_deleted(admin_client, alice):
    event = set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    assert admin_client.get(reverse("admin:accounts_consentevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:accounts_consentevent_add")).status_code == 403
    change = admin_client.get(reverse("admin:accounts_consentevent_change", args=[event.pk]))
    assert 'name="_save"' not in change.content.decode()
    delete = admin_client.post(
        reverse("admin:accounts_consentevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert ConsentEvent.objects.count() == 1


def test_publishing_a_purpose_text_makes_a_new_version_and_keeps_the_old(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_purposetext_add"),
        {"purpose": INSIGHTS, "title": "Habit summaries", "body": "Clearer words."},
    )
    assert response.status_code == 302
    assert current_text(INSIGHTS).version == 2
    old = PurposeText.objects.get(purpose=INSIGHTS, version=1)
    page = admin_client.get(reverse("admin:accounts_purposetext_change", args=[old.pk]))
    assert 'name="body"' not in page.content.decode()
