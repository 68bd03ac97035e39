"""Two shoppers redeeming the same code at once: the code's row lock lets exactly one win."""

import threading
import time

import pytest
from django.db import connection

from accounts import services
from accounts.models import Customer
from tests.accounts.factories import issue_code, make_customer
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_a_code_redeemed_twice_at_once_links_exactly_one_login(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is under test; SQLite locks the whole file")
    customer = make_customer()
    code, _ = issue_code(customer)
    first, second = UserFactory(email="first@example.com"), UserFactory(email="second@example.com")
    first_holds_the_code = threading.Event()
    outcomes: dict[str, str] = {}
    attach = services._attach

    def attach_slowly(**kwargs):
        # Keep the first redemption's transaction open while the second one reads the code,
        # so the second must wait on the row lock (or, without it, would read a stale row).
        if kwargs["user"] == first:
            first_holds_the_code.set()
            time.sleep(0.5)
        return attach(**kwargs)

    monkeypatch.setattr(services, "_attach", attach_slowly)

    def redeem(user, wait_for=None):
        from django.db import connection as thread_connection

        try:
            if wait_for is not None:
                wait_for.wait(timeout=10)
            services.link_customer(user=user, code=code)
            outcomes[user.email] = "linked"
        except services.LinkError as exc:
            outcomes[user.email] = exc.reason
        finally:
            thread_connection.close()

    threads = [
        threading.Thread(target=redeem, args=(first,)),
        threading.Thread(target=redeem, args=(second, first_holds_the_code)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The loser sees a spent code (the same answer as an unknown one), not a taken customer.
    assert outcomes == {first.email: "linked", second.email: services.LinkError.UNKNOWN}
    assert Customer.objects.get(pk=customer.pk).user == first
