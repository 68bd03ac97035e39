"""Linking a login to the store's customer: a one-time code, never a typed card number."""

import re
import sys
import types
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Customer, LinkAttempt, LinkCode, hash_code
from tests.accounts.factories import issue_code, make_customer
from tests.factories import CustomerIdentifierFactory

pytestmark = pytest.mark.django_db

UNKNOWN_MESSAGE = "That code is not valid"


def _redeem(client, code, welcome=False):
    url = reverse("accounts:link") + ("?welcome=1" if welcome else "")
    return client.post(url, {"code": code})


def test_the_code_is_stored_hashed_and_lasts_fourteen_days():
    customer = make_customer()
    with time_machine.travel("2026-11-01 10:00Z", tick=False):
        code, link_code = issue_code(customer)
    assert link_code.code_hash == hash_code(code)
    assert code.replace("-", "") not in link_code.code_hash
    assert link_code.expires_at - link_code.created_at == timedelta(days=14)


def test_a_valid_code_links_the_customer_and_is_spent(bob_client, bob):
    customer = make_customer()
    code, link_code = issue_code(customer)

    response = _redeem(bob_client, code.lower().replace("-", " "))

    assert response.status_code == 302
    assert response["Location"] == reverse("purchases:history")
    customer.refresh_from_db()
    assert customer.user == bob
    assert customer.linked_at is not None
    link_code.refresh_from_db()
    assert link_code.used_at is not None


def test_a_used_code_is_refused_with_the_same_message_as_an_unknown_one(client, bob, charlie):
    customer = make_customer()
    code, _ = issue_code(customer)
    services.link_customer(user=bob, code=code)

    client.force_login(charlie)
    Customer.objects.filter(user=charlie).delete()
    used = _redeem(client, code).content.decode()
    unknown = _redeem(client, "ABCDE-FGH23").content.decode()

    assert UNKNOWN_MESSAGE in used
    assert UNKNOWN_MESSAGE in unknown
    assert Customer.objects.get(pk=customer.pk).user == bob


def test_an_expired_code_says_it_expired(bob_client):
    customer = make_customer()
    code, _ = issue_code(customer, age=timedelta(days=15))
    response = _redeem(bob_client, code)
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).user is None


def test_a_code_a_day_before_expiry_still_works(bob):
    customer = make_customer()
    code, _ = issue_code(customer, age=timedelta(days=13))
    assert services.link_customer(user=bob, code=code) == customer


def test_a_malformed_code_is_explained_without_counting_as_an_attempt(bob_client, bob):
    response = _redeem(bob_client, "6001234567")  # a card number is not a code
    assert response.status_code == 400
    assert "A code has ten letters and digits" in response.content.decode()
    assert LinkAttempt.objects.filter(user=bob).count() == 0


def test_ten_wrong_codes_in_an_hour_lock_out_even_a_right_one(bob_client, bob):
    customer = make_customer()
    code, _ = issue_code(customer)
    with time_machine.travel("2026-11-01 10:00Z", tick=False):
        for _ in range(services.LINK_ATTEMPT_LIMIT):
            assert _redeem(bob_client, "ABCDE-FGH23").status_code == 400
        locked = _redeem(bob_client, code)
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    assert Customer.objects.get(pk=customer.pk).user is None

    with time_machine.travel("2026-11-01 11:01Z", tick=False):
        assert _redeem(bob_client, code).status_code == 302
    assert Customer.objects.get(pk=customer.pk).user == bob


def test_a_customer_linked_to_someone_else_cannot_be_taken(bob, charlie):
    customer = Customer.objects.get(user=charlie)
    code, _ = issue_code(customer)
    with pytest.raises(services.LinkError) as exc:
        services.link_customer(user=bob, code=code)
    assert exc.value.reason == services.LinkError.CUSTOMER_TAKEN
    assert Customer.objects.get(pk=customer.pk).user == charlie


def test_a_login_with_a_card_cannot_take_a_second_customer(alice):
    other = make_customer("6009999999")
    code, _ = issue_code(other)
    with pytest.raises(services.LinkError) as exc:
        services.link_customer(user=alice, code=code)
    assert exc.value.reason == services.LinkError.LOGIN_TAKEN
    assert Customer.objects.get(pk=other.pk).user is None
    # The refused code is not spent: the store can still hand it to the right person.
    assert LinkCode.objects.get(customer=other).used_at is None


def test_linking_spends_every_outstanding_code_of_the_customer(bob):
    customer = make_customer()
    first, _ = issue_code(customer)
    second, _ = issue_code(customer)
    services.link_customer(user=bob, code=first)
    assert not LinkCode.objects.filter(customer=customer, used_at__isnull=True).exists()


def test_linking_queues_a_refresh_once_the_link_is_committed(
    bob, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    fake = types.ModuleType("insights.purchases.services")
    fake.queue_refreshes = lambda *, customer_ids: queued.append(list(customer_ids))
    monkeypatch.setitem(sys.modules, "insights.purchases.services", fake)
    customer = make_customer()
    code, _ = issue_code(customer)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.link_customer(user=bob, code=code)
    assert queued == []
    for callback in callbacks:
        callback()
    assert queued == [[customer.pk]]


def test_linking_queues_a_real_refresh_task(bob, monkeypatch, django_capture_on_commit_callbacks):
    from insights.purchases import tasks

    sent = []
    monkeypatch.setattr(
        tasks.refresh_shopper_task, "apply_async", lambda args, **kw: sent.append(args)
    )
    customer = make_customer()
    code, _ = issue_code(customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.link_customer(user=bob, code=code)
    assert sent == [[customer.pk]]


def test_a_refused_link_queues_nothing(bob, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    fake = types.ModuleType("insights.purchases.services")
    fake.queue_refreshes = lambda *, customer_ids: queued.append(list(customer_ids))
    monkeypatch.setitem(sys.modules, "insights.purchases.services", fake)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.LinkError):
        services.link_customer(user=bob, code="ABCDE-FGH23")
    assert queued == []


def test_the_link_page_shows_the_form_to_a_shopper_without_a_card(bob_client):
    body = bob_client.get(reverse("accounts:link")).content.decode()
    assert 'name="code"' in body
    assert "card number alone is not enough" in body


def test_the_link_page_shows_a_linked_card_masked(alice_client, alice):
    CustomerIdentifierFactory(customer=alice.customer, kind="loyalty_card", value="6001234567")
    body = alice_client.get(reverse("accounts:link")).content.decode()
    assert "Your store card is linked" in body
    assert "4567" in body
    assert "6001234567" not in body
    assert 'name="code"' not in body


def test_a_linked_shopper_posting_a_code_changes_nothing(alice_client, alice):
    other = make_customer("6009999999")
    code, _ = issue_code(other)
    alice_client.post(reverse("accounts:link"), {"code": code})
    assert Customer.objects.get(pk=other.pk).user is None


def test_the_link_page_needs_a_login(client):
    response = client.get(reverse("accounts:link"))
    assert response["Location"].startswith(reverse("accounts:login"))


def test_old_failed_attempts_are_pruned(bob):
    with time_machine.travel("2026-11-01 08:00Z", tick=False), pytest.raises(services.LinkError):
        services.link_customer(user=bob, code="ABCDEFGH23")
    with time_machine.travel("2026-11-01 10:00Z", tick=False):
        with pytest.raises(services.LinkError):
            services.link_customer(user=bob, code="ABCDEFGH23")
        assert LinkAttempt.objects.filter(user=bob).count() == 1
        assert services.failed_link_attempts(user=bob) == 1


def test_an_admin_can_issue_a_code_that_is_shown_once(admin_client):
    customer = make_customer()
    response = admin_client.post(
        reverse("admin:accounts_customer_changelist"),
        {"action": "create_link_code", "_selected_action": [customer.pk]},
        follow=True,
    )
    body = response.content.decode()
    link_code = LinkCode.objects.get(customer=customer)
    code = re.search(r"one-time link code ([A-Z0-9]{5}-[A-Z0-9]{5})", body).group(1)
    assert hash_code(code) == link_code.code_hash
    assert timezone.now() < link_code.expires_at
    # Shown once: the customer's page lists the code's dates, never the code.
    page = admin_client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))
    assert code not in page.content.decode()
