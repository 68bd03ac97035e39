"""Orders from the web shop, the app and the store till, and their lines."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, User
from insights.catalog.models import Product


class Channel(models.TextChoices):
    WEB = "web", _("web shop")
    APP = "app", _("app")
    STORE = "store", _("store")


class OrderQuerySet(models.QuerySet["Order"]):
    def for_shopper(self, user: User) -> "OrderQuerySet":
        """Orders of the customer linked to `user`; none for a login without one."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(customer__user=user)


class Order(models.Model):
    # No index of its own: order_customer_placed_idx starts with customer.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="orders", db_index=False
    )
    source = models.CharField(
        _("source"), max_length=40, help_text=_("The system that sent the order.")
    )
    external_id = models.CharField(_("external id"), max_length=64)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    store_id = models.CharField(_("store"), max_length=32, blank=True)
    placed_at = models.DateTimeField(_("placed at"))
    currency = models.CharField(_("currency"), max_length=3)
    total_amount = models.DecimalField(_("total paid"), max_digits=12, decimal_places=2)
    total_discount = models.DecimalField(_("total saved"), max_digits=12, decimal_places=2)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    # A digest of the order's content: the same id with another digest is a conflict.
    content_hash = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)

    objects = OrderQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="unique_order_source_id")
        ]
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="order_customer_placed_idx")
        ]
        ordering = ["-placed_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class OrderLine(models.Model):
    # customer and placed_at are copied from the order so history analysis reads one
    # table through the (customer, placed_at) index without a join.
    #
    # Bulk ingestion writes ~1.5 million lines at a time, and every index and foreign-key
    # check costs per line: `order` is served by unique_order_line_no (order, line_no) and
    # `customer` by line_customer_placed_idx, so neither has an index of its own; and
    # `customer` has no database constraint because it is a copy of order.customer, which
    # has one (the ORM still cascades deletes).
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    placed_at = models.DateTimeField()
    line_no = models.PositiveIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lines")
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    amount_paid = models.DecimalField(_("paid"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    coupon_discount = models.DecimalField(
        _("coupon discount"), max_digits=12, decimal_places=2, default=0
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="unique_order_line_no")
        ]
        indexes = [
            models.Index(fields=["customer", "placed_at"], name="line_customer_placed_idx"),
        ]
        ordering = ["order_id", "line_no"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.order_id}#{self.line_no}"


class PendingRefresh(models.Model):
    """The refresh state of one shopper: when the last refresh began, and the one queued.

    Refreshes are debounced on both edges: an order after a quiet period is refreshed at
    once, and the orders that follow within `REFRESH_DEBOUNCE_SECONDS` of that refresh's
    start share one more refresh at the end of the window. Both fields change only through
    conditional UPDATEs, so processes racing on one shopper queue one task between them.
    """

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="+")
    # When the queued refresh is due to run; null when none is queued.
    due_at = models.DateTimeField(null=True, blank=True)
    # When the last refresh task began; the next is not due before this plus the window.
    last_started_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        due = f"due {self.due_at:%Y-%m-%d %H:%M:%S}" if self.due_at else "none queued"
        return f"refresh customer {self.customer_id} ({due})"
