"""Catalog admin: departments, categories and products; bulk shelf life, review, import/export."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportModelAdmin

from insights.catalog import services
from insights.catalog.models import Category, Department, Product, UnreviewedProduct
from insights.catalog.resources import ProductResource


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "aisle_order", "never_list", "category_count"]
    list_editable = ["aisle_order", "never_list"]
    list_filter = ["never_list"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Department]:
        return super().get_queryset(request).annotate(category_count=Count("categories"))

    @admin.display(description=_("categories"), ordering="category_count")
    def category_count(self, obj: Department) -> int:
        return obj.category_count


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "department",
        "default_shelf_life_days",
        "default_shelf_life_opened_days",
        "default_shelf_life_frozen_days",
        "due_soon_share",
        "never_list",
        "product_count",
    ]
    list_editable = [
        "default_shelf_life_days",
        "default_shelf_life_opened_days",
        "default_shelf_life_frozen_days",
        "due_soon_share",
        "never_list",
    ]
    list_filter = ["department", "never_list"]
    list_select_related = ["department"]
    search_fields = ["name", "department__name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description=_("products"), ordering="product_count")
    def product_count(self, obj: Category) -> int:
        return obj.product_count


class ShelfLifeKnownFilter(admin.SimpleListFilter):
    title = _("shelf life")
    parameter_name = "shelf_life"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [
            ("own", _("Set on the product")),
            ("category", _("From the category")),
            ("none", _("None at all")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "own":
            return queryset.filter(shelf_life_days__isnull=False)
        if self.value() == "category":
            return queryset.filter(
                shelf_life_days__isnull=True, category__default_shelf_life_days__isnull=False
            )
        if self.value() == "none":
            return queryset.filter(
                shelf_life_days__isnull=True, category__default_shelf_life_days__isnull=True
            )
        return queryset


class NeedsReviewFilter(admin.SimpleListFilter):
    """First in the sidebar: products created by ingestion wait for an admin's check."""

    title = _("review")
    parameter_name = "needs_review"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("yes", _("Needs review")), ("no", _("Reviewed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(reviewed=False)
        if self.value() == "no":
            return queryset.filter(reviewed=True)
        return queryset


class ShelfLifeForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Which shelf life"),
        choices=[
            ("best_before", _("Unopened (best before)")),
            ("opened", _("After opening")),
            ("frozen", _("Frozen")),
        ],
    )
    days = forms.IntegerField(
        label=_("Days"),
        min_value=1,
        max_value=3650,
        required=False,
        help_text=_("Leave empty to clear it, so the category's default applies."),
    )


@admin.register(Product)
class ProductAdmin(ImportExportModelAdmin, admin.ModelAdmin):
    resource_classes = [ProductResource]
    list_display = [
        "sku",
        "name",
        "brand",
        "size",
        "category",
        "perishable",
        "shelf_life_days",
        "effective_shelf_life",
        "active",
        "reviewed",
    ]
    list_display_links = ["sku", "name"]
    list_editable = ["shelf_life_days"]
    list_filter = [
        NeedsReviewFilter,
        "category__department",
        "perishable",
        "active",
        ShelfLifeKnownFilter,
        ("category", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["category__department"]
    search_fields = ["=sku", "name", "brand"]
    autocomplete_fields = ["category"]
    list_per_page = 50
    # 92,000 products: an exact count of the unfiltered list on every page view is waste.
    show_full_result_count = False
    actions = ["set_shelf_life", "mark_reviewed", "activate", "deactivate"]
    fieldsets = [
        (None, {"fields": ["sku", "name", "brand", ("package_size", "unit"), "category"]}),
        (
            _("Shelf life"),
            {
                "fields": [
                    "perishable",
                    "shelf_life_days",
                    "shelf_life_opened_days",
                    "shelf_life_frozen_days",
                ]
            },
        ),
        (_("Status"), {"fields": ["active", "reviewed", "created_at"]}),
    ]
    readonly_fields = ["created_at"]

    @admin.display(description=_("size"))
    def size(self, obj: Product) -> str:
        return obj.size_label

    @admin.display(description=_("effective shelf life"))
    def effective_shelf_life(self, obj: Product) -> str:
        days = obj.effective_shelf_life_days
        return "—" if days is None else f"{days}"

    def has_import_permission(self, request: HttpRequest) -> bool:
        # Importing adds and changes products: view access alone must not allow it.
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):  # noqa: ANN201
        waiting = Product.objects.unreviewed().count()
        if waiting and request.GET.get("needs_review") != "yes" and request.method == "GET":
            url = reverse("admin:catalog_product_changelist") + "?needs_review=yes"
            messages.warning(
                request,
                format_html(
                    '{} <a href="{}">{}</a>',
                    ngettext(
                        "%(count)d product arrived in an order and needs review.",
                        "%(count)d products arrived in orders and need review.",
                        waiting,
                    )
                    % {"count": waiting},
                    url,
                    _("Show them"),
                ),
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Set shelf life…"), permissions=["change"])
    def set_shelf_life(
        self, request: HttpRequest, queryset: QuerySet[Product]
    ) -> HttpResponse | None:
        form = ShelfLifeForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            count = services.set_shelf_life(
                products=queryset, days=form.cleaned_data["days"], kind=form.cleaned_data["kind"]
            )
            self.message_user(
                request,
                ngettext(
                    "Shelf life set on %(count)d product.",
                    "Shelf life set on %(count)d products.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Set shelf life"),
            "opts": self.model._meta,
            "form": form,
            "products": queryset.select_related("category")[:20],
            "count": queryset.count(),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": "set_shelf_life",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/catalog/set_shelf_life.html", context)

    @admin.action(description=_("Mark reviewed"), permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        count = services.mark_reviewed(products=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d product marked reviewed.", "%(count)d products marked reviewed.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Activate"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        count = services.set_active(products=queryset, active=True)
        self.message_user(
            request,
            ngettext("%(count)d product activated.", "%(count)d products activated.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        count = services.set_active(products=queryset, active=False)
        self.message_user(
            request,
            ngettext("%(count)d product deactivated.", "%(count)d products deactivated.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(UnreviewedProduct)
class UnreviewedProductAdmin(admin.ModelAdmin):
    """Its own entry on the admin index, so new products from orders are not missed."""

    list_display = ["sku", "name", "category", "perishable", "shelf_life_days", "created_at"]
    list_editable = ["category", "perishable", "shelf_life_days"]
    list_select_related = ["category__department"]
    search_fields = ["=sku", "name"]
    autocomplete_fields = ["category"]
    ordering = ["-created_at"]
    actions = ["mark_reviewed"]
    fields = ProductAdmin.fieldsets[0][1]["fields"] + [
        "perishable",
        "shelf_life_days",
        "reviewed",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[UnreviewedProduct]:
        return super().get_queryset(request).filter(reviewed=False)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # they come from orders

    @admin.action(description=_("Mark reviewed"), permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        count = services.mark_reviewed(products=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d product marked reviewed.", "%(count)d products marked reviewed.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )
