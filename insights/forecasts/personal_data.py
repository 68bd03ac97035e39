"""Forecasts, the shopping list and its decisions as personal data, registered with accounts."""

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from accounts.personal_data import (
    BookkeepingRule,
    Retention,
    expire_by,
    model_data_class,
    register,
    register_bookkeeping,
)
from accounts.purposes import PREDICTIONS
from insights.forecasts.models import (
    Forecast,
    ForecastRun,
    ItemAction,
    ListItem,
    ListSnapshot,
    ShoppingList,
)

SOURCE = _("Computed by Kvitto from your orders and your decisions on the list.")
KEPT = _(
    "While Predicted shopping list is on; replaced on every refresh and deleted when you "
    "switch it off."
)


def _expire_decisions(cutoff: datetime) -> int:
    # "Never suggest again" is a standing instruction, not history: it stays while the
    # shopper keeps predictions on, however old it is.
    qs = ItemAction.objects.filter(at__lt=cutoff).exclude(action=ItemAction.Action.NEVER)
    return qs.delete()[1].get(ItemAction._meta.label, 0)


def register_forecasts_data() -> None:
    register(
        model_data_class(
            key="forecasts.forecasts",
            model=Forecast,
            title=_("Forecasts"),
            purpose=PREDICTIONS,
            holds=_(
                "For each product you may need: the probability you need it on your next "
                "trip, the expected quantity and date, and how often you bought it."
            ),
            source=SOURCE,
            queryset=lambda s: Forecast.objects.filter(user_id=s.user_id),
            columns={
                "product_sku": "product__sku",
                "product_name": "product__name",
                "probability": "probability",
                "expected_quantity": "expected_quantity",
                "expected_date": "expected_date",
                "n_purchases": "n_purchases",
                "first_bought": "first_bought",
                "last_bought": "last_bought",
                "interval_days": "interval_days",
                "source": "source",
                "rank": "rank",
                "computed_at": "computed_at",
            },
            kept=KEPT,
        ),
        model_data_class(
            key="forecasts.shopping_list",
            model=ShoppingList,
            title=_("Your shopping list"),
            purpose=PREDICTIONS,
            holds=_("Your list for the next trip: for when, its usual size, when it was updated."),
            source=SOURCE,
            queryset=lambda s: ShoppingList.objects.filter(user_id=s.user_id),
            columns={
                "for_trip_on": "for_trip_on",
                "typical_basket_size": "typical_basket_size",
                "computed_at": "computed_at",
                "status": "status",
            },
            kept=_("As long as you keep your account; its predictions go when you switch off."),
        ),
        model_data_class(
            key="forecasts.list_items",
            model=ListItem,
            title=_("Shopping list items"),
            purpose=PREDICTIONS,
            holds=_(
                "Each item on your list: predicted, added by you or often bought together, "
                "its quantity and whether you ticked it off."
            ),
            source=SOURCE,
            queryset=lambda s: ListItem.objects.filter(shopping_list__user_id=s.user_id),
            columns={
                "product_sku": "product__sku",
                "product_name": "product__name",
                "free_text": "free_text",
                "kind": "kind",
                "quantity": "quantity",
                "state": "state",
                "added_by": "added_by",
                "probability": "probability",
                "because_of_sku": "because_of__sku",
                "created_at": "created_at",
            },
            kept=_(
                "Items you added stay as long as your account; predicted ones go with "
                "Predicted shopping list."
            ),
        ),
        model_data_class(
            key="forecasts.list_decisions",
            model=ItemAction,
            title=_("Your decisions on the list"),
            purpose=PREDICTIONS,
            holds=_(
                "What you did with suggestions: ticked off, not this time, snoozed, still "
                "have some, never suggest again."
            ),
            source=_("You, on the shopping list."),
            queryset=lambda s: ItemAction.objects.filter(user_id=s.user_id),
            columns={
                "product_sku": "product__sku",
                "product_name": "product__name",
                "action": "action",
                "at": "at",
                "until": "until",
            },
            retention=Retention(
                setting="RETENTION_LIST_HISTORY_DAYS",
                unit="days",
                expire=_expire_decisions,
                counted_from=_("after the decision ('never suggest again' stays)"),
            ),
        ),
        model_data_class(
            key="forecasts.scored_lists",
            model=ListSnapshot,
            title=_("Scored lists"),
            purpose=PREDICTIONS,
            holds=_("Your list as it stood before a shop, and how many of its items you bought."),
            source=SOURCE,
            queryset=lambda s: ListSnapshot.objects.filter(user_id=s.user_id),
            columns={
                "list_computed_at": "list_computed_at",
                "product_ids": "product_ids",
                "shop_at": "shop_at",
                "n_items": "n_items",
                "n_bought": "n_bought",
            },
            retention=Retention(
                setting="RETENTION_LIST_HISTORY_DAYS",
                unit="days",
                expire=expire_by(ListSnapshot.objects.all, "shop_at"),
                counted_from=_("after the shop"),
            ),
        ),
    )
    register_bookkeeping(
        BookkeepingRule(
            key="forecasts.runs",
            title=_("Forecast runs"),
            retention=Retention(
                setting="RETENTION_BOOKKEEPING_DAYS",
                unit="days",
                expire=expire_by(ForecastRun.objects.all, "started_at"),
                counted_from=_("after the run"),
            ),
        )
    )
