"""Factories and helpers for the accounts tests: API clients and issued link codes."""

from datetime import timedelta

from django.utils import timezone

from accounts import services
from accounts.models import Customer, LinkCode
from insights.api.models import IntegrationClient
from tests.factories import CustomerFactory, CustomerIdentifierFactory


def make_api_client(*, name: str, scopes: list[str]) -> tuple[IntegrationClient, str]:
    """An integration client and its clear-text key (only ever known at creation)."""
    client = IntegrationClient(name=name, scopes=scopes)
    key = client.rotate_key()
    client.save()
    return client, key


def make_customer(card: str = "6001234567") -> Customer:
    customer = CustomerFactory(user=None)
    CustomerIdentifierFactory(customer=customer, kind="loyalty_card", value=card)
    return customer


def issue_code(customer: Customer, *, age: timedelta = timedelta(0)) -> tuple[str, LinkCode]:
    """Issue a code as the store would; `age` backdates it (to test expiry)."""
    issued = services.create_link_code(customer=customer)
    if age:
        LinkCode.objects.filter(pk=issued.link_code.pk).update(
            created_at=timezone.now() - age, expires_at=timezone.now() - age + LinkCode.LIFETIME
        )
    return issued.code, issued.link_code
