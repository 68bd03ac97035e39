"""Admin: perishable products without a shelf life, so none is guessed at silently.

Pantry items, notifications and digests are shoppers' personal data and are not listed.
"""

from django.contrib import admin

from insights.pantry.models import ProductWithoutShelfLife


@admin.register(ProductWithoutShelfLife)
class ProductWithoutShelfLifeAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "category", "shelf_life_days", "perishable"]
    list_editable = ["shelf_life_days", "perishable"]
    list_filter = ["category__department"]
    search_fields = ["name", "sku"]
    list_select_related = ["category__department"]
    fields = [
        "name",
        "sku",
        "category",
        "perishable",
        "shelf_life_days",
        "shelf_life_opened_days",
        "shelf_life_frozen_days",
    ]
    readonly_fields = ["name", "sku", "category"]
    ordering = ["category__name", "name"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        # Products come from the catalog; this list only fills the gaps.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
