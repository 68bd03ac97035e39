"""Two beat processes sending the same shopper's digest at once: the unique key lets one send."""

import threading
import time
from datetime import UTC, date, datetime

import pytest
from django.core import mail
from django.db import connection

from accounts.purposes import EMAIL, PANTRY
from insights.pantry import services
from insights.pantry.models import DigestLog, Notification
from tests.factories import CustomerFactory, UserFactory
from tests.pantry.factories import PantryItemFactory, grant


@pytest.mark.django_db(transaction=True)
def test_two_beats_racing_for_one_digest_send_one_email(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the wait on the unique index is what is under test; SQLite locks the file")
    shopper = UserFactory(email="race@example.com")
    CustomerFactory(user=shopper)
    grant(shopper, PANTRY, EMAIL)
    item = PantryItemFactory(user=shopper)
    notification = Notification.objects.create(
        user=shopper, kind="due_soon", item=item, dedupe_key="race"
    )
    first_is_sending = threading.Event()
    original_send = services.EmailMultiAlternatives.send
    sends: list[str] = []

    def send_slowly(message, *args, **kwargs):
        # The first beat holds its transaction (and its DigestLog row) open while sending,
        # so the second beat's insert has to wait for it on the unique index.
        sends.append(threading.current_thread().name)
        first_is_sending.set()
        time.sleep(0.5)
        return original_send(message, *args, **kwargs)

    monkeypatch.setattr(services.EmailMultiAlternatives, "send", send_slowly)
    outcomes: dict[str, bool] = {}

    def beat(name, wait_for=None):
        from django.db import connection as thread_connection

        try:
            if wait_for is not None:
                wait_for.wait(timeout=10)
            outcomes[name] = services.send_digest(
                user=shopper,
                day=date(2026, 11, 15),
                notifications=[notification],
                now=datetime(2026, 11, 15, 9, tzinfo=UTC),
            )
        finally:
            thread_connection.close()

    threads = [
        threading.Thread(target=beat, args=("first",), name="first"),
        threading.Thread(target=beat, args=("second", first_is_sending), name="second"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"first": True, "second": False}
    assert sends == ["first"]
    assert len(mail.outbox) == 1
    assert DigestLog.objects.filter(user=shopper).count() == 1
