"""Department → category → product, with units, perishability and shelf life."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    aisle_order = models.PositiveIntegerField(
        _("aisle order"), default=100, help_text=_("Lower comes first on a shopping list.")
    )
    never_list = models.BooleanField(
        _("never listed"),
        default=False,
        help_text=_("Fuel, coupons, postage and services: never analysed or suggested."),
    )

    class Meta:
        ordering = ["aisle_order", "name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        related_name="categories",
        verbose_name=_("department"),
    )
    name = models.CharField(_("name"), max_length=100)
    default_shelf_life_days = models.PositiveIntegerField(
        _("default shelf life (days)"), null=True, blank=True
    )
    default_shelf_life_opened_days = models.PositiveIntegerField(
        _("default shelf life after opening (days)"), null=True, blank=True
    )
    default_shelf_life_frozen_days = models.PositiveIntegerField(
        _("default shelf life frozen (days)"), null=True, blank=True
    )
    due_soon_share = models.DecimalField(
        _("due-soon window (share of shelf life)"),
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Overrides the shopper's due-soon days, e.g. 0.25 = the last quarter."),
    )
    never_list = models.BooleanField(_("never listed"), default=False)

    class Meta:
        ordering = ["department__aisle_order", "department__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["department", "name"], name="unique_category_name")
        ]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return f"{self.department.name} / {self.name}"


class ProductQuerySet(models.QuerySet["Product"]):
    def unreviewed(self) -> "ProductQuerySet":
        return self.filter(reviewed=False)


class Product(models.Model):
    class Unit(models.TextChoices):
        PIECE = "pc", _("piece")
        GRAM = "g", _("gram")
        KILOGRAM = "kg", _("kilogram")
        MILLILITRE = "ml", _("millilitre")
        LITRE = "l", _("litre")
        OUNCE = "oz", _("ounce")
        POUND = "lb", _("pound")
        FLUID_OUNCE = "floz", _("fluid ounce")
        GALLON = "gal", _("gallon")
        COUNT = "ct", _("count")

    # One deployment serves one retailer, so a SKU unique here is unique per retailer.
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    package_size = models.DecimalField(
        _("package size"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices, blank=True)
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("category"),
    )
    perishable = models.BooleanField(_("perishable"), default=False)
    shelf_life_days = models.PositiveIntegerField(
        _("shelf life (days)"),
        null=True,
        blank=True,
        help_text=_("Leave empty to use the category's default."),
    )
    shelf_life_opened_days = models.PositiveIntegerField(
        _("shelf life after opening (days)"), null=True, blank=True
    )
    shelf_life_frozen_days = models.PositiveIntegerField(
        _("shelf life frozen (days)"), null=True, blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    reviewed = models.BooleanField(
        _("reviewed"),
        default=True,
        help_text=_("Products first seen in an order are unreviewed until an admin checks them."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [models.Index(fields=["reviewed"], name="product_reviewed_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_shelf_life_days(self) -> int | None:
        if self.shelf_life_days is not None:
            return self.shelf_life_days
        if self.category_id is not None:
            return self.category.default_shelf_life_days
        return None

    @property
    def size_label(self) -> str:
        if self.package_size is None:
            return ""
        size = f"{self.package_size.normalize():f}"
        return f"{size} {self.unit}".strip()


class UnreviewedProduct(Product):
    """Products first seen in an order, listed on their own so admins notice and check them."""

    class Meta:
        proxy = True
        verbose_name = _("product to review")
        verbose_name_plural = _("products to review")
