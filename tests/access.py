"""Shoppers with one of everything, each tagged with a canary, for the access and API tests.

`plant("bob")` gives Bob a login and customer card, every consent, two orders, habit
highlights, a shopping list (a predicted item and a free-text one), pantry items, a
notification and a ready data export with its file: one row of each kind a page or
endpoint takes an id of. Every text Bob owns carries his canary (`CANARYBOB`), so a
response that shows any of it to someone else is caught by a plain substring search.
Rows are written directly (no refresh pipeline), which keeps building three shoppers at
a fraction of a second.

`owned_rows` and `snapshot` are the other half: every row of every model that belongs to a
shopper, found by following foreign keys to the login, so a new model is covered without
editing this file.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.test import override_settings
from django.utils import timezone

from accounts.consent import set_consent
from accounts.models import ConsentEvent, CustomerIdentifier, DataExport, User
from accounts.purposes import SWITCHABLE
from insights.forecasts.models import ListItem, ShoppingList
from insights.habits.models import HabitHighlight, HabitSnapshot
from insights.pantry.models import Notification, PantryItem
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    DepartmentFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)

PASSWORD = "correct horse battery staple"  # noqa: S105  (the factories' test password)


@dataclass
class Planted:
    """A shopper and the ids of what they own, by kind ("order", "list_item", ...)."""

    user: User
    canary: str
    card: str
    ids: dict[str, list] = field(default_factory=dict)

    def first(self, kind: str) -> object:
        return self.ids[kind][0]


def plant(tag: str, *, export_root: Path | None = None, today: date | None = None) -> Planted:
    """A shopper named after `tag` with one or two rows of every kind, all canary-tagged."""
    canary = f"CANARY{tag.upper()}"
    today = today or timezone.localdate()
    user = UserFactory(email=f"{canary.lower()}@example.com", name=f"{tag.title()} {canary}")
    customer = CustomerFactory(user=user)
    # The card is how the store's systems name the customer in URLs: it holds no canary,
    # so an error that echoes the requested reference is not mistaken for a leak.
    card = f"CARD-{tag.upper()}-7001"
    CustomerIdentifier.objects.create(customer=customer, kind="loyalty_card", value=card)
    for purpose in SWITCHABLE:
        set_consent(user=user, purpose=purpose, granted=True, method=ConsentEvent.Method.API)

    department = DepartmentFactory(name=f"Pantry {canary}")
    category = CategoryFactory(
        department=department, name=f"Spices {canary}", default_shelf_life_days=10
    )
    product = ProductFactory(
        sku=f"SKU-{canary}", name=f"Saffron {canary}", category=category, perishable=True
    )
    orders, lines = [], []
    for n in range(2):
        placed = timezone.now() - timedelta(days=7 * (n + 1))
        order = OrderFactory(customer=customer, store_id=canary, placed_at=placed)
        lines.append(OrderLineFactory(order=order, line_no=1, product=product))
        orders.append(order)

    snapshot = HabitSnapshot.objects.create(
        user=user,
        period="3m",
        status=HabitSnapshot.Status.FRESH,
        state="ok",
        data={"note": canary},
        computed_at=timezone.now(),
    )
    highlights = [
        HabitHighlight.objects.create(
            snapshot=snapshot,
            user=user,
            key=f"{canary}-{n}",
            kind="note",
            params={"product": product.name},
            position=n,
        )
        for n in range(2)
    ]

    shopping_list = ShoppingList.objects.create(
        user=user,
        for_trip_on=today + timedelta(days=3),
        computed_at=timezone.now(),
        status=ShoppingList.Status.FRESH,
    )
    list_items = [
        ListItem.objects.create(
            shopping_list=shopping_list,
            product=product,
            kind=ListItem.Kind.PREDICTED,
            added_by=ListItem.AddedBy.MODEL,
            department=department,
            probability=0.8,
        ),
        ListItem.objects.create(
            shopping_list=shopping_list,
            free_text=f"Candles {canary}",
            kind=ListItem.Kind.OWN,
            added_by=ListItem.AddedBy.SHOPPER,
        ),
    ]

    pantry_items = [
        PantryItem.objects.create(
            user=user,
            product=product,
            order_line=line,
            bought_on=today - timedelta(days=2),
            best_before=today + timedelta(days=2 + n),
            estimated_best_before=today + timedelta(days=2 + n),
            shelf_life_days=4 + n,
            rule_days=4 + n,
            estimate_rule=PantryItem.Rule.PRODUCT,
            due_soon_on=today,
            value=Decimal("20.00"),
        )
        for n, line in enumerate(lines)
    ]
    notifications = [
        Notification.objects.create(
            user=user,
            kind=Notification.Kind.DUE_SOON,
            item=item,
            payload={"product": product.name, "best_before": item.best_before.isoformat()},
            dedupe_key=f"access:{canary}:{item.pk}",
        )
        for item in pantry_items
    ]

    export_root = Path(export_root or settings.DATA_EXPORT_ROOT)
    export_root.mkdir(parents=True, exist_ok=True)
    file_name = f"{uuid.uuid4().hex}.zip"
    (export_root / file_name).write_bytes(f"not really a zip, but {canary}'s".encode())
    export = DataExport.objects.create(
        user=user,
        status=DataExport.Status.READY,
        finished_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=7),
        file_name=file_name,
        size_bytes=64,
        row_counts={"purchases.orders": 2},
    )

    events = list(ConsentEvent.objects.filter(user=user).order_by("pk")[:2])
    return Planted(
        user=user,
        canary=canary,
        card=card,
        ids={
            "user": [user.pk],
            "customer": [customer.pk],
            "order": [o.pk for o in orders],
            "highlight": [h.pk for h in highlights],
            "list_item": [i.pk for i in list_items],
            "pantry_item": [i.pk for i in pantry_items],
            "notification": [n.pk for n in notifications],
            "export": [export.pk],
            "receipt": [str(event.receipt_id) for event in events],
            "consent_event": [event.pk for event in events],
            "customer_ref": [f"loyalty_card:{card}"],
        },
    )


@contextmanager
def built_once(django_db_blocker: object, export_root: Path) -> Iterator[None]:
    """For a module-scoped fixture: rows written in the block live until the module ends.

    They are written in a transaction that is rolled back afterwards; each test runs in a
    savepoint inside it (pytest-django's `db`), so what one test writes the next never sees.
    """
    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DATA_EXPORT_ROOT=export_root,
    )
    with django_db_blocker.unblock(), fast, transaction.atomic():  # type: ignore[attr-defined]
        yield
        transaction.set_rollback(True)


# --- What belongs to a shopper ----------------------------------------------------------


def owner_path(model: type[models.Model], depth: int = 3) -> str | None:
    """The lookup from `model` to its owning login ("user", "customer__user", ...), if any."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    if model is user_model:
        return "pk"
    frontier: list[tuple[type[models.Model], str]] = [(model, "")]
    for _ in range(depth):
        following = []
        for current, prefix in frontier:
            for f in current._meta.concrete_fields:
                if not f.is_relation or f.related_model is None:
                    continue
                lookup = f"{prefix}{f.name}"
                if f.related_model is user_model:
                    return lookup
                following.append((f.related_model, f"{lookup}__"))
        frontier = following
    return None


def shopper_models() -> list[tuple[type[models.Model], str]]:
    """Every model of the project's own apps whose rows belong to a shopper, with the path."""
    found = []
    for model in apps.get_models():
        if not model.__module__.startswith(("accounts.", "insights.")):
            continue
        path = owner_path(model)
        if path is not None:
            found.append((model, path))
    return found


def owned_rows(user_pk: int) -> dict[str, list[tuple]]:
    """Every value of every row `user_pk` owns, by model, in primary-key order."""
    rows = {}
    for model, path in shopper_models():
        names = [f.attname for f in model._meta.concrete_fields]
        queryset = model.objects.filter(**{path: user_pk}).order_by("pk")
        rows[model._meta.label] = [tuple(map(repr, r)) for r in queryset.values_list(*names)]
    return rows


def snapshot(user_pks: list[int]) -> dict[str, object]:
    """Row counts of every table, and a hash of each model's rows the given shoppers own."""
    state: dict[str, object] = {
        f"rows in {m._meta.label}": m._default_manager.count() for m in apps.get_models()
    }
    for pk in user_pks:
        for label, rows in owned_rows(pk).items():
            digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
            state[f"{label} of shopper {pk}"] = f"{len(rows)} rows, {digest}"
    return state
