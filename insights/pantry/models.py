"""Pantry items with their best-before dates, the shopper's pantry settings, notifications."""

import secrets
from datetime import date, time
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from insights.catalog.models import Product
from insights.pantry import shelf_life

# A translator may choose another day-and-month format (Swedish: "j b" gives "3 nov").
SHORT_DATE = pgettext_lazy("date format for 'bought 3 Nov'", "j M")


class PantryItemQuerySet(models.QuerySet["PantryItem"]):
    def for_shopper(self, user: models.Model) -> "PantryItemQuerySet":
        return self.filter(user=user)

    def in_pantry(self) -> "PantryItemQuerySet":
        return self.filter(state=PantryItem.State.IN_PANTRY)


class PantryItem(models.Model):
    """One perishable line of a receipt, tracked until it is used, thrown or removed."""

    class State(models.TextChoices):
        IN_PANTRY = "in_pantry", _("in the pantry")
        USED = "used", _("used up")
        THROWN = "thrown", _("thrown away")
        REMOVED = "removed", _("removed")
        # Presumed used up: the shopper bought the same product again (services.build_pantry).
        REPLACED = "replaced", _("bought again")

    class Rule(models.TextChoices):
        PRODUCT = shelf_life.RULE_PRODUCT, _("product shelf life")
        CATEGORY = shelf_life.RULE_CATEGORY, _("category default")
        OPENED = shelf_life.RULE_OPENED, _("opened")
        FROZEN = shelf_life.RULE_FROZEN, _("frozen")
        CORRECTED = shelf_life.RULE_CORRECTED, _("corrected by you")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pantry_items"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    # The receipt line it came from; unique per shopper so building twice adds nothing.
    order_line = models.ForeignKey(
        "purchases.OrderLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3, default=1)
    bought_on = models.DateField(_("bought on"))
    best_before = models.DateField(_("best before"))
    # The first estimate and what it assumed, kept for "bought 3 Nov, keeps about 14 days".
    estimated_best_before = models.DateField()
    shelf_life_days = models.PositiveIntegerField()
    # The rule behind the current date and the days it assumed (changes on open/freeze/correct).
    estimate_rule = models.CharField(max_length=12, choices=Rule.choices)
    rule_days = models.PositiveIntegerField()
    # Median days between the shopper's purchases of the product when the item was made:
    # how long a pack lasts them, for "will you use it in time".
    usual_days = models.PositiveIntegerField(null=True, blank=True)
    # First local date on which the item is due soon; precomputed so the reminder job reads
    # one indexed range instead of evaluating every item's window.
    due_soon_on = models.DateField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PANTRY)
    opened_on = models.DateField(null=True, blank=True)
    frozen_on = models.DateField(null=True, blank=True)
    finished_on = models.DateField(null=True, blank=True)
    # Share of the item thrown away (1 = all), for the waste figure.
    thrown_share = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    value = models.DecimalField(_("paid"), max_digits=12, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(default=timezone.now)

    objects = PantryItemQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "order_line"], name="unique_pantry_item_per_line"
            ),
            models.CheckConstraint(
                condition=models.Q(thrown_share__isnull=True)
                | (models.Q(thrown_share__gt=0) & models.Q(thrown_share__lte=1)),
                name="pantry_thrown_share_range",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "state", "best_before"], name="pantry_user_state_bb_idx"),
            models.Index(fields=["user", "state", "due_soon_on"], name="pantry_user_state_due_idx"),
        ]
        ordering = ["best_before", "id"]
        verbose_name = _("pantry item")
        verbose_name_plural = _("pantry items")

    def __str__(self) -> str:
        return f"{self.product_id} until {self.best_before}"

    @property
    def is_in_pantry(self) -> bool:
        return self.state == self.State.IN_PANTRY

    @property
    def wasted_value(self) -> Decimal:
        if self.state != self.State.THROWN or self.thrown_share is None:
            return Decimal("0")
        return (self.value * self.thrown_share).quantize(Decimal("0.01"))

    def status_on(self, as_of: date) -> str:
        return shelf_life.status(
            best_before=self.best_before, due_soon_on=self.due_soon_on, as_of=as_of
        )

    def estimate_text(self) -> str:
        """How the date was estimated, in the active language: "Bought 3 Nov; yoghurt keeps
        about 14 days." """
        days = self.rule_days
        values = {
            "bought": date_format(self.bought_on, str(SHORT_DATE)),
            "product": self.product.name,
            "category": self.product.category.name if self.product.category_id else "",
            "opened": date_format(self.opened_on, str(SHORT_DATE)) if self.opened_on else "",
            "frozen": date_format(self.frozen_on, str(SHORT_DATE)) if self.frozen_on else "",
            "days": days,
        }
        if self.estimate_rule == self.Rule.PRODUCT:
            text = ngettext(
                "Bought %(bought)s; %(product)s keeps about %(days)s day.",
                "Bought %(bought)s; %(product)s keeps about %(days)s days.",
                days,
            )
        elif self.estimate_rule == self.Rule.CATEGORY:
            text = ngettext(
                "Bought %(bought)s; %(category)s usually keeps about %(days)s day.",
                "Bought %(bought)s; %(category)s usually keeps about %(days)s days.",
                days,
            )
        elif self.estimate_rule == self.Rule.OPENED:
            text = ngettext(
                "Opened %(opened)s; keeps about %(days)s day once open.",
                "Opened %(opened)s; keeps about %(days)s days once open.",
                days,
            )
        elif self.estimate_rule == self.Rule.FROZEN:
            text = ngettext(
                "Frozen %(frozen)s; keeps about %(days)s day in the freezer.",
                "Frozen %(frozen)s; keeps about %(days)s days in the freezer.",
                days,
            )
        else:
            text = gettext("Bought %(bought)s; date set by you.")
        return text % values

    def use_in_time_hint(self, as_of: date) -> shelf_life.UseInTimeHint | None:
        if not self.is_in_pantry or self.usual_days is None or self.frozen_on is not None:
            return None
        return shelf_life.use_in_time(
            usual_days=self.usual_days,
            bought_on=self.bought_on,
            best_before=self.best_before,
            as_of=as_of,
        )


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


class PantrySettings(models.Model):
    """A shopper's reminder preferences, calendar secret and the pantry build cursor."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pantry_settings"
    )
    due_soon_days = models.PositiveSmallIntegerField(
        _("remind me this many days before"), default=2
    )
    quiet_hours_start = models.TimeField(
        _("no e-mail from"), null=True, blank=True, default=time(21, 0)
    )
    quiet_hours_end = models.TimeField(_("until"), null=True, blank=True, default=time(8, 0))
    # The secret in the calendar URL; None = no feed. Regenerating revokes the old URL.
    calendar_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The highest order line id already turned into items: later builds read only newer lines.
    processed_line_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("pantry settings")
        verbose_name_plural = _("pantry settings")

    def __str__(self) -> str:
        return f"Pantry settings of {self.user_id}"


class Notification(models.Model):
    """An in-app message; `dedupe_key` makes re-running the reminder job create nothing twice."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", _("use soon")
        EXPORT_READY = "export_ready", _("your data export is ready")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pantry_notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    item = models.ForeignKey(
        PantryItem, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    payload = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "read_at"], name="pantry_notif_user_read_idx"),
            models.Index(fields=["user", "emailed_at"], name="pantry_notif_user_mail_idx"),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"

    @staticmethod
    def key_for(kind: str, user_id: int, item_id: int) -> str:
        return f"{kind}:{user_id}:{item_id}"


class DigestLog(models.Model):
    """One reminder e-mail per shopper and local day: the unique key two racing beats share."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pantry_digests"
    )
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)
    item_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="unique_digest_per_day")
        ]
        verbose_name = _("digest e-mail")
        verbose_name_plural = _("digest e-mails")

    def __str__(self) -> str:
        return f"Digest for {self.user_id} on {self.day}"


class ProductWithoutShelfLifeManager(models.Manager[Product]):
    def get_queryset(self) -> models.QuerySet[Product]:
        return (
            super()
            .get_queryset()
            .filter(perishable=True, shelf_life_days__isnull=True)
            .filter(
                models.Q(category__isnull=True)
                | models.Q(category__default_shelf_life_days__isnull=True)
            )
        )


class ProductWithoutShelfLife(Product):
    """Perishable products nobody set a shelf life for: listed for admins, never guessed."""

    objects = ProductWithoutShelfLifeManager()

    class Meta:
        proxy = True
        verbose_name = _("perishable product without shelf life")
        verbose_name_plural = _("perishable products without shelf life")
