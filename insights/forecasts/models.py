"""Stored forecasts, the shopper's list, their decisions on it, and the runs that produced them."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from insights.catalog.models import Department, Product

# Confidence labels the shopper reads; the probability itself is on hover.
# The model's probability is "needed on the next trip"; these cut-offs keep "high" for
# items bought on most recent trips at this point of their cycle. "Maybe" items only fill
# the list up to about one usual basket, best first, and nothing under MAYBE is listed.
# MAYBE was 15 %: with calibrated next-trip probabilities that left 27 % of the full demo's
# 2,469 shoppers an empty list and the median shopper two items, though their usual basket
# holds about eight; at 5 % the median list is a basket (docs/shopping-list.md).
HIGH_CONFIDENCE = 0.6
LIKELY_CONFIDENCE = 0.35
MAYBE_CONFIDENCE = 0.05


def confidence_label(probability: float | None) -> str:
    """'high' / 'likely' / 'maybe' for a probability; '' when there is none (own items)."""
    if probability is None:
        return ""
    if probability >= HIGH_CONFIDENCE:
        return "high"
    if probability >= LIKELY_CONFIDENCE:
        return "likely"
    return "maybe"


class ForecastModel(models.Model):
    """A model fitted across contributing shoppers (granted `model_improvement` only).

    `payload` is a pickle of {"model": FittedModel, "rules": DataFrame, "popular": DataFrame};
    it is written by our own task and read by our own workers, never from outside.
    """

    created_at = models.DateTimeField(default=timezone.now)
    as_of = models.DateTimeField(_("trained on orders before"))
    payload = models.BinaryField()
    n_contributors = models.PositiveIntegerField(_("contributing shoppers"), default=0)
    n_rules = models.PositiveIntegerField(_("bought-together rules"), default=0)
    summary = models.JSONField(_("coefficients and figures"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        verbose_name = _("fitted forecast model")
        verbose_name_plural = _("fitted forecast models")

    def __str__(self) -> str:
        return f"Model of {self.created_at:%Y-%m-%d %H:%M} ({self.n_contributors} shoppers)"


class Forecast(models.Model):
    """One shopper's forecast for one product; replaced on every refresh."""

    class Source(models.TextChoices):
        PERSONAL = "personal", _("your own purchases")
        POPULAR = "popular", _("popular with other shoppers")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecasts"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField(_("probability of needing it next trip"))
    expected_quantity = models.DecimalField(max_digits=10, decimal_places=3)
    expected_date = models.DateField(_("likely needed by"), null=True, blank=True)
    n_purchases = models.PositiveIntegerField(default=0)
    first_bought = models.DateField(null=True, blank=True)
    last_bought = models.DateField(null=True, blank=True)
    interval_days = models.FloatField(_("typical days between purchases"), null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PERSONAL)
    rank = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "product"], name="unique_forecast_per_product")
        ]
        ordering = ["user", "rank"]
        verbose_name = _("forecast")
        verbose_name_plural = _("forecasts")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.product_id} p={self.probability:.2f}"

    @property
    def confidence(self) -> str:
        return confidence_label(self.probability)


class ShoppingList(models.Model):
    """A shopper's one current list, for their next trip."""

    class Status(models.TextChoices):
        FRESH = "fresh", _("up to date")
        COMPUTING = "computing", _("updating")
        STALE = "stale", _("out of date")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shopping_list"
    )
    for_trip_on = models.DateField(_("for the trip around"), null=True, blank=True)
    typical_basket_size = models.PositiveIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STALE)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("shopping list")
        verbose_name_plural = _("shopping lists")
        indexes = [models.Index(fields=["computed_at"], name="shopping_list_computed_idx")]

    def __str__(self) -> str:
        return f"List of {self.user_id}"

    @property
    def is_computing(self) -> bool:
        return self.status == self.Status.COMPUTING


class ListItem(models.Model):
    class Kind(models.TextChoices):
        PREDICTED = "predicted", _("predicted")
        OWN = "own", _("added by you")
        TOGETHER = "together", _("often bought together")

    class State(models.TextChoices):
        OPEN = "open", _("to buy")
        TICKED = "ticked", _("ticked off")
        SKIPPED = "skipped", _("not this time")

    class AddedBy(models.TextChoices):
        SHOPPER = "shopper", _("you")
        MODEL = "model", _("Kvitto")

    shopping_list = models.ForeignKey(ShoppingList, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    free_text = models.CharField(_("item"), max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3, default=1)
    # Copied from the product's category so the page groups without joining three tables.
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    added_by = models.CharField(max_length=10, choices=AddedBy.choices)
    # Predicted: the forecast's probability; together: the rule's confidence.
    probability = models.FloatField(null=True, blank=True)
    because_of = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shopping_list", "product"],
                condition=models.Q(product__isnull=False),
                name="unique_list_product",
            ),
            models.CheckConstraint(
                condition=models.Q(product__isnull=False) | ~models.Q(free_text=""),
                name="list_item_has_product_or_text",
            ),
        ]
        verbose_name = _("list item")
        verbose_name_plural = _("list items")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.product.name if self.product_id else self.free_text

    @property
    def confidence(self) -> str:
        return confidence_label(self.probability) if self.kind == self.Kind.PREDICTED else ""


class ItemAction(models.Model):
    """A shopper's decision about a product; the log feeds the next forecast's adjustments."""

    class Action(models.TextChoices):
        TICKED = "ticked", _("ticked off")
        NOT_THIS_TIME = "not_this_time", _("not this time")
        SNOOZE = "snooze", _("snoozed")
        STILL_HAVE = "still_have", _("still have some")
        NEVER = "never", _("never suggest again")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="item_actions"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "product", "-at"], name="item_action_user_idx")]
        ordering = ["-at", "-id"]
        verbose_name = _("list decision")
        verbose_name_plural = _("list decisions")

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} {self.product_id}"


class ListSnapshot(models.Model):
    """The list as it stood before a shop, scored against that shop ("8 of 12 were bought")."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="list_snapshots"
    )
    list_computed_at = models.DateTimeField()
    product_ids = models.JSONField(default=list)
    shop_at = models.DateTimeField(_("the next shop"))
    n_items = models.PositiveIntegerField()
    n_bought = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-shop_at", "-id"]
        indexes = [models.Index(fields=["user", "-shop_at"], name="list_snapshot_user_idx")]
        verbose_name = _("scored list")
        verbose_name_plural = _("scored lists")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.n_bought}/{self.n_items}"


class ForecastRun(models.Model):
    """One refresh or fit, for staff: when, how many shoppers, what failed."""

    class Kind(models.TextChoices):
        REFRESH = "refresh", _("refresh after new orders")
        NIGHTLY = "nightly", _("nightly refresh")
        CONSENT = "consent", _("refresh after consent")
        FIT = "fit", _("model fit")
        MANUAL = "manual", _("manual")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    shoppers = models.PositiveIntegerField(default=0)
    forecasts = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error_detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("forecast run")
        verbose_name_plural = _("forecast runs")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
