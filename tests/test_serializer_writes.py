"""No API write can set an owner, a staff flag, an id or a timestamp from the request body.

Two halves:

- Statically, every serializer the API reads a request with (found through the schema
  generator's endpoint list, so a new endpoint is covered without editing this file) has
  no writable field with such a name, except those listed with a reason; and every
  ModelSerializer is read-only throughout.
- Behaviourally, every operation that takes a body (again from the endpoint list; a new one
  fails `test_every_write_operation_has_a_case` until it has a row in `CASES`) is sent its
  valid body plus `id`, `user`, `owner`, `customer_id`, `is_staff`, `created_at` and the
  like, pointing at Bob. The answer must be a success that ignored them or a 400, and the
  stored rows must show they were not applied: Alice's row is Alice's, its id and times are
  the server's own, Bob's rows are as they were, and nobody became staff.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from rest_framework import serializers

from accounts.models import Customer, DataExport, LinkCode, User
from insights.api.models import Scope
from insights.forecasts.models import ListItem
from insights.purchases.models import Order
from tests.access import Planted, owned_rows, plant
from tests.accounts.factories import make_api_client
from tests.factories import UserFactory

# Names that say who owns a row, who may administer, which row it is, or when it happened.
PROTECTED = {
    "id", "pk", "user", "user_id", "owner", "owner_id", "customer", "customer_id",
    "shopping_list", "shopping_list_id", "is_staff", "is_superuser", "is_active", "groups",
    "user_permissions", "created_at", "updated_at", "requested_at", "linked_at",
    "date_joined", "last_login", "expires_at",
}  # fmt: skip

# Writable protected names that are the operation's purpose, with the reason.
ALLOWED: dict[str, str] = {
    "LinkCodeRequestSerializer.customer": (
        "the store's own reference (kind, value) to the customer the code is for; only an "
        "API key with the link scope may send it"
    ),
    "LinkRequestSerializer.customer": (
        "the store's reference to the customer it verified in person; only an API key with "
        "the link scope may send it"
    ),
    "IngestOrderSerializer.customer": (
        "the store's reference to whose order it is: assigning orders to customers is what "
        "ingestion does, for API keys with the ingest scope only"
    ),
}


def _endpoints() -> list[tuple[str, str, object]]:
    return [
        (path, method, callback)
        for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints()
    ]


@functools.cache
def _request_serializers() -> dict[tuple[str, str], object]:
    """The serializer each body-taking operation reads its request with, or None.

    Computed once, with one generator kept alive throughout: DRF's schema descriptor keeps
    weak references, which fail when what they point to is gone.
    """
    found, generator = {}, SchemaGenerator()
    for path, method, callback in _endpoints():
        if method in ("POST", "PUT", "PATCH"):
            view = generator.create_view(callback, method)
            schema = view.schema
            schema.path, schema.method = path, method  # what AutoSchema reads them from
            found[path, method] = schema.get_request_serializer()
    return found


def _writable_fields(serializer: object, prefix: str = "") -> Iterator[tuple[str, str]]:
    """("ClassName.field", field name) of every writable field, nested ones included."""
    instance = serializer() if isinstance(serializer, type) else serializer
    if isinstance(instance, serializers.ListSerializer):
        instance = instance.child
    if not isinstance(instance, serializers.Serializer):
        return
    for name, field in instance.fields.items():
        if field.read_only:
            continue
        yield f"{type(instance).__name__}.{name}", name
        child = field.child if isinstance(field, serializers.ListField) else field
        if isinstance(child, serializers.BaseSerializer):
            yield from _writable_fields(child)


WRITES = [(p, m) for p, m, _c in _endpoints() if m in ("POST", "PUT", "PATCH", "DELETE")]


def test_no_request_serializer_has_a_writable_owner_staff_id_or_time_field():
    found, checked = [], 0
    for (path, method), serializer in _request_serializers().items():
        checked += serializer is not None
        for label, name in _writable_fields(serializer) if serializer is not None else ():
            if name in PROTECTED and label not in ALLOWED:
                found.append(f"{method} {path}: {label}")
    assert checked >= 5, "the endpoint list found the API's request serializers"
    assert found == [], "make these read_only, or drop them from the serializer"


def test_every_allowed_protected_field_exists_and_says_why():
    fields = {
        label
        for serializer in _request_serializers().values()
        if serializer is not None
        for label, _name in _writable_fields(serializer)
    }
    assert set(ALLOWED) <= fields
    assert all(reason.strip() for reason in ALLOWED.values())


def _model_serializers(cls: type = serializers.ModelSerializer) -> Iterator[type]:
    for sub in cls.__subclasses__():
        if sub.__module__.startswith(("accounts.", "insights.")):
            yield sub
        yield from _model_serializers(sub)


def test_every_model_serializer_is_read_only():
    """They only present rows; a write through one would bypass the services' rules."""
    writable = {
        f"{cls.__module__}.{cls.__name__}.{name}"
        for cls in _model_serializers()
        for name, field in cls().fields.items()
        if not field.read_only
    }
    assert len(list(_model_serializers())) >= 5
    assert sorted(writable) == []


# --- Sending the fields -------------------------------------------------------------------

# What an attacker adds to a valid body; `{bob}`-style values are filled with Bob's ids.
LONG_AGO = "2000-01-01T00:00:00Z"


def extras(bob: Planted) -> dict[str, object]:
    pk = bob.user.pk
    return {
        "id": 987654, "pk": 987654, "user": pk, "user_id": pk, "owner": pk, "owner_id": pk,
        "customer_id": bob.user.customer.pk, "shopping_list": bob.user.shopping_list.pk,
        "shopping_list_id": bob.user.shopping_list.pk, "is_staff": True, "is_superuser": True,
        "created_at": LONG_AGO, "updated_at": LONG_AGO, "requested_at": LONG_AGO,
        "linked_at": LONG_AGO, "expires_at": "2100-01-01T00:00:00Z", "status": "ready",
        "file_name": "../other.zip", "kind": "predicted", "added_by": "model", "state": "ticked",
    }  # fmt: skip


@dataclass
class Ctx:
    alice: Planted
    bob: Planted
    client: object  # Alice's logged-in test client
    api: object  # a test client for the store's systems
    key: str

    def post_as_alice(self, url: str, body: dict):  # noqa: ANN201
        return self.client.post(url, body, content_type="application/json")

    def post_as_store(self, url: str, body: dict):  # noqa: ANN201
        return self.api.post(
            url,
            body,
            content_type="application/json",
            headers={"Authorization": f"Api-Key {self.key}"},
        )


def recent(moment) -> bool:  # noqa: ANN001
    return abs(timezone.now() - moment) < timedelta(minutes=5)


def add_own_item(ctx: Ctx) -> None:
    body = {"free_text": "Candles", **extras(ctx.bob)}
    response = ctx.post_as_alice("/api/v1/me/shopping-list/items", body)
    assert response.status_code == 201, response.content
    item = ListItem.objects.select_related("shopping_list").get(pk=response.json()["id"])
    assert item.pk != 987654
    assert item.shopping_list.user_id == ctx.alice.user.pk
    assert (item.kind, item.added_by, item.state) == ("own", "shopper", "open")
    assert recent(item.created_at)


def act_on_item(ctx: Ctx) -> None:
    mine = ctx.alice.first("list_item")
    body = {"action": "tick", "item": ctx.bob.first("list_item"), **extras(ctx.bob)}
    body["id"] = ctx.bob.first("list_item")
    response = ctx.post_as_alice(f"/api/v1/me/shopping-list/items/{mine}/actions", body)
    assert response.status_code in (200, 204), response.content
    assert ListItem.objects.get(pk=mine).state == "ticked"


def request_export(ctx: Ctx) -> None:
    DataExport.objects.filter(user=ctx.alice.user).delete()
    response = ctx.post_as_alice("/api/v1/me/export", extras(ctx.bob))
    assert response.status_code == 202, response.content
    export = DataExport.objects.get(pk=response.json()["id"])
    assert export.pk != 987654
    assert (export.user_id, export.status) == (ctx.alice.user.pk, "pending")
    assert "other" not in export.file_name
    assert recent(export.requested_at)
    assert export.expires_at < timezone.now() + timedelta(days=60)


def issue_link_code(ctx: Ctx) -> None:
    body = {"customer": {"kind": "loyalty_card", "value": "NEW-CARD-1"}, **extras(ctx.bob)}
    body["customer"] = {"kind": "loyalty_card", "value": "NEW-CARD-1"}
    response = ctx.post_as_store("/api/v1/customers/link-codes", body)
    assert response.status_code == 201, response.content
    code = LinkCode.objects.select_related("customer").latest("pk")
    assert code.pk != 987654
    assert code.customer.identifiers.get().value == "NEW-CARD-1"
    assert code.customer.user_id is None
    assert recent(code.created_at)
    assert code.expires_at < timezone.now() + LinkCode.LIFETIME + timedelta(minutes=5)


def link_customer(ctx: Ctx) -> None:
    dana = UserFactory(email="dana@example.com")
    body = {**extras(ctx.bob), "customer": {"kind": "loyalty_card", "value": "NEW-CARD-2"}}
    body["email"] = dana.email
    response = ctx.post_as_store("/api/v1/customers/link", body)
    assert response.status_code == 200, response.content
    customer = Customer.objects.get(identifiers__value="NEW-CARD-2")
    assert customer.pk != 987654
    assert customer.user_id == dana.pk
    assert recent(customer.linked_at)


def ingest_order(ctx: Ctx) -> None:
    order = {
        **extras(ctx.bob),
        "external_id": "W-1",
        "customer": {"kind": "loyalty_card", "value": ctx.alice.card},
        "channel": "web",
        "placed_at": timezone.now().isoformat(),
        "currency": "SEK",
        "lines": [{"sku": "SKU-X", "name": "Tea", "quantity": "1", "unit_price": "9.00",
                   "amount_paid": "9.00", **extras(ctx.bob)}],
    }  # fmt: skip
    response = ctx.post_as_store("/api/v1/ingest/orders", {"orders": [order], **extras(ctx.bob)})
    assert response.status_code == 201, response.content
    stored = Order.objects.get(external_id="W-1")
    assert stored.pk != 987654
    assert stored.customer_id == ctx.alice.user.customer.pk
    assert stored.lines.get().customer_id == ctx.alice.user.customer.pk


CASES: dict[tuple[str, str], Callable[[Ctx], None]] = {
    ("/api/v1/me/shopping-list/items", "POST"): add_own_item,
    ("/api/v1/me/shopping-list/items/{pk}/actions", "POST"): act_on_item,
    ("/api/v1/me/export", "POST"): request_export,
    ("/api/v1/customers/link-codes", "POST"): issue_link_code,
    ("/api/v1/customers/link", "POST"): link_customer,
    ("/api/v1/ingest/orders", "POST"): ingest_order,
}


def test_every_write_operation_has_a_case():
    assert sorted(set(WRITES) - set(CASES)) == []
    assert sorted(set(CASES) - set(WRITES)) == [], "a case names no operation"


@pytest.fixture
def ctx(client, db, settings) -> Ctx:
    alice, bob = plant("alice"), plant("bob")
    _client, key = make_api_client(name="till", scopes=list(Scope.values))
    from django.test import Client

    client.force_login(alice.user)
    return Ctx(alice=alice, bob=bob, client=client, api=Client(), key=key)


@pytest.mark.parametrize("operation", sorted(CASES), ids=[f"{m} {p}" for p, m in sorted(CASES)])
def test_a_write_ignores_owner_staff_id_and_time_fields(ctx, operation):
    bob_before = owned_rows(ctx.bob.user.pk)
    staff_before = set(User.objects.filter(is_staff=True).values_list("pk", flat=True))
    CASES[operation](ctx)
    assert owned_rows(ctx.bob.user.pk) == bob_before, "Bob's rows changed"
    assert set(User.objects.filter(is_staff=True).values_list("pk", flat=True)) == staff_before
    assert not User.objects.filter(is_superuser=True).exists()
