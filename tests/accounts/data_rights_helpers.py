"""A shopper with a row in every table that can hold their data, for export and erasure tests."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from accounts.consent import set_consent
from accounts.models import ConsentEvent, DataExport, LinkAttempt, User
from accounts.purposes import SWITCHABLE
from accounts.services import create_link_code
from insights.api.models import ConsentRead, IntegrationClient
from insights.forecasts.models import Forecast, ItemAction, ListItem, ListSnapshot, ShoppingList
from insights.habits.models import HabitHighlight, HabitSnapshot
from insights.pantry.models import DigestLog, Notification, PantryItem, PantrySettings
from insights.purchases.models import PendingRefresh
from tests.factories import (
    CustomerIdentifierFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

PLACED = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)


def log_in_session(user: User) -> str:
    """A stored login session of `user` (another device), as django.contrib.auth writes it."""
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def fill_everything(user: User, *, orders: int = 3, lines: int = 4, tag: str = "") -> None:
    """Give `user` (who has a customer) rows in every personal table; `tag` keeps SKUs apart."""
    customer = user.customer
    CustomerIdentifierFactory(customer=customer, kind="loyalty_card", value=f"CARD-{user.pk}")
    CustomerIdentifierFactory(customer=customer, kind="web", value=f"WEB-{user.pk}")
    for purpose in SWITCHABLE:
        set_consent(user=user, purpose=purpose, granted=True, method=ConsentEvent.Method.DEMO)
    products = [ProductFactory(sku=f"{tag}SKU{n}", name=f"{tag}Product {n}") for n in range(lines)]
    first_line = None
    for o in range(orders):
        order = OrderFactory(customer=customer, placed_at=PLACED + timedelta(days=o))
        for n, product in enumerate(products, start=1):
            line = OrderLineFactory(order=order, line_no=n, product=product)
            first_line = first_line or line
    PendingRefresh.objects.create(customer=customer)
    create_link_code(customer=customer)
    LinkAttempt.objects.create(user=user, reason="unknown")
    snapshot = HabitSnapshot.objects.create(user=user, period="4w", data={"total": "12.50"})
    HabitHighlight.objects.create(snapshot=snapshot, user=user, key="k1", kind="up")
    now = timezone.now()
    Forecast.objects.create(
        user=user,
        product=products[0],
        probability=0.7,
        expected_quantity=Decimal("1"),
        rank=1,
        computed_at=now,
    )
    shopping_list = ShoppingList.objects.create(user=user)
    ListItem.objects.create(
        shopping_list=shopping_list, product=products[0], kind="predicted", added_by="model"
    )
    ListItem.objects.create(
        shopping_list=shopping_list, free_text="Candles", kind="own", added_by="shopper"
    )
    ItemAction.objects.create(user=user, product=products[1], action="ticked")
    ListSnapshot.objects.create(
        user=user, list_computed_at=now, product_ids=[1], shop_at=now, n_items=1, n_bought=1
    )
    item = PantryItem.objects.create(
        user=user,
        product=products[0],
        order_line=first_line,
        bought_on=date(2026, 10, 1),
        best_before=date(2026, 10, 10),
        estimated_best_before=date(2026, 10, 10),
        shelf_life_days=9,
        estimate_rule="product",
        rule_days=9,
        due_soon_on=date(2026, 10, 8),
    )
    PantrySettings.objects.create(user=user, calendar_token=f"token-{user.pk}")
    Notification.objects.create(
        user=user,
        kind="due_soon",
        item=item,
        payload={"product": products[0].name},
        dedupe_key=f"due_soon:{user.pk}:{item.pk}",
    )
    DigestLog.objects.create(user=user, day=date(2026, 10, 8), item_count=1)
    DataExport.objects.create(user=user, status="failed", expires_at=now + timedelta(days=7))
    LogEntry.objects.log_actions(
        user_id=User.objects.filter(is_staff=True).values_list("pk", flat=True).first()
        or _staff().pk,
        queryset=[user],
        action_flag=CHANGE,
        change_message="Changed name.",
        single_object=True,
    )
    log_in_session(user)
    till, _ = IntegrationClient.objects.get_or_create(
        name="Till", defaults={"key_prefix": "kv_till", "key_hash": "till-hash"}
    )
    ConsentRead.objects.create(client=till, customer=customer)
    user.groups.add(Group.objects.get_or_create(name="Newsletter readers")[0])


def _staff() -> User:
    return User.objects.create_user("staff@example.com", "staff-password-123", is_staff=True)
