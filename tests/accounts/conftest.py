"""Shoppers without a store card yet, as every shopper is right after sign-up."""

import pytest
from django.utils import timezone

from tests.factories import UserFactory


@pytest.fixture
def bob(db):
    """Bob has checked in but not linked a store card: no Customer of his own."""
    return UserFactory(email="bob@example.com", name="Bob Berg", checked_in_at=timezone.now())


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client
