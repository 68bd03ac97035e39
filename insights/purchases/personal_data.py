"""The purchase history's personal data, registered with accounts for export, erasure, retention."""

from django.utils.translation import gettext_lazy as _

from accounts.personal_data import (
    Retention,
    Subject,
    expire_by,
    model_data_class,
    register,
)
from accounts.purposes import NECESSARY
from insights.purchases.models import Order, OrderLine, PendingRefresh

SOURCE = _("The store's systems: the web shop, the app and the store till.")


def _of_customer(model, subject: Subject):
    if subject.customer_id is None:
        return model.objects.none()
    return model.objects.filter(customer_id=subject.customer_id)


def _orders_kept(model) -> Retention:
    # Lines are registered after orders, so retention (derived first) deletes them first by
    # their own copy of placed_at; the orders' delete then has no lines left to collect.
    return Retention(
        setting="RETENTION_ORDERS_MONTHS",
        unit="months",
        expire=expire_by(model.objects.all, "placed_at"),
        counted_from=_("after the purchase"),
    )


def register_purchases_data() -> None:
    register(
        model_data_class(
            key="purchases.orders",
            model=Order,
            title=_("Orders"),
            purpose=NECESSARY,
            holds=_(
                "Each order from every channel: where it came from, its id there, the "
                "channel and store, when it was placed, the total paid and saved."
            ),
            source=SOURCE,
            queryset=lambda s: _of_customer(Order, s),
            # Served by order_customer_placed_idx (customer, -placed_at).
            order_by=("-placed_at", "-pk"),
            columns={
                "order_id": "pk",
                "source": "source",
                "external_id": "external_id",
                "channel": "channel",
                "store_id": "store_id",
                "placed_at": "placed_at",
                "currency": "currency",
                "total_amount": "total_amount",
                "total_discount": "total_discount",
                "line_count": "line_count",
                "received_at": "received_at",
            },
            retention=_orders_kept(Order),
        ),
        model_data_class(
            key="purchases.order_lines",
            model=OrderLine,
            title=_("Order lines"),
            purpose=NECESSARY,
            holds=_(
                "Each line of each order: the product, quantity, unit price, amount paid "
                "and discounts."
            ),
            source=SOURCE,
            queryset=lambda s: _of_customer(OrderLine, s),
            # Served by line_customer_placed_idx (customer, placed_at).
            order_by=("placed_at", "order_id", "line_no"),
            columns={
                "order_id": "order_id",
                "line_no": "line_no",
                "placed_at": "placed_at",
                "product_sku": "product__sku",
                "product_name": "product__name",
                "quantity": "quantity",
                "unit_price": "unit_price",
                "amount_paid": "amount_paid",
                "discount": "discount",
                "coupon_discount": "coupon_discount",
            },
            retention=_orders_kept(OrderLine),
        ),
        model_data_class(
            key="purchases.pending_refreshes",
            model=PendingRefresh,
            title=_("Waiting refreshes"),
            purpose=NECESSARY,
            holds=_("Whether new receipts are waiting to be added to your summaries."),
            source=_("Kvitto itself, when new receipts arrive."),
            queryset=lambda s: _of_customer(PendingRefresh, s),
            columns={"due_at": "due_at", "last_started_at": "last_started_at"},
            retention=Retention(
                setting="RETENTION_BOOKKEEPING_DAYS",
                unit="days",
                # Only rows with nothing queued: a queued refresh is still to run.
                expire=expire_by(
                    lambda: PendingRefresh.objects.filter(due_at__isnull=True), "last_started_at"
                ),
                counted_from=_("after the last refresh, when none is waiting"),
            ),
        ),
    )
