"""Catalog file import and export (django-import-export): products keyed on SKU."""

from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from insights.catalog.models import Category, Product

CATEGORY_SEPARATOR = " / "


class CategoryPathWidget(widgets.ForeignKeyWidget):
    """A category as "Department / Category", the way the admin shows it; unknown is an error.

    Names may contain "/" themselves ("BAKED BREAD/BUNS/ROLLS"), so the separator has spaces.
    Categories are never created by an import: a typo would silently grow the catalog.
    """

    def __init__(self) -> None:
        super().__init__(Category)

    def clean(self, value: object, row: dict | None = None, **kwargs: object) -> Category | None:
        text = str(value or "").strip()
        if not text:
            return None
        department, sep, name = text.partition(CATEGORY_SEPARATOR.strip())
        if not sep:
            raise ValueError(
                _('Category "%(value)s" must be written as "Department / Category".')
                % {"value": text}
            )
        category = (
            Category.objects.select_related("department")
            .filter(department__name__iexact=department.strip(), name__iexact=name.strip())
            .first()
        )
        if category is None:
            raise ValueError(
                _(
                    'Unknown category "%(value)s": create it in the admin first, or fix the '
                    "spelling."
                )
                % {"value": text}
            )
        return category

    def render(self, value: Category | None, obj: object = None, **kwargs: object) -> str:
        if value is None:
            return ""
        return f"{value.department.name}{CATEGORY_SEPARATOR}{value.name}"


class ProductResource(resources.ModelResource):
    category = fields.Field(
        attribute="category", column_name="category", widget=CategoryPathWidget()
    )

    class Meta:
        model = Product
        import_id_fields = ["sku"]
        fields = [
            "sku",
            "name",
            "brand",
            "package_size",
            "unit",
            "category",
            "perishable",
            "shelf_life_days",
            "shelf_life_opened_days",
            "shelf_life_frozen_days",
            "active",
            "reviewed",
        ]
        export_order = fields
        # full_clean() per row: a bad unit or a negative shelf life is a row error.
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    def get_export_queryset(self, request: object = None):  # noqa: ANN201
        return Product.objects.select_related("category__department").order_by("sku")

    def before_import_row(self, row: dict, **kwargs: object) -> None:
        # Admins reviewed the file: what they import is reviewed unless it says otherwise.
        if row.get("reviewed") in (None, ""):
            row["reviewed"] = "1"
