"""Admin for logins, customers (with link codes), the consent log, purpose texts, erasures."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.forms import AdminUserAddForm, AdminUserChangeForm
from accounts.models import (
    ConsentEvent,
    Customer,
    CustomerIdentifier,
    ErasureRecord,
    LinkCode,
    PurposeText,
    User,
)


class ShopperDataAdmin(admin.ModelAdmin):
    """Admin of rows that belong to a shopper.

    Django's history page looks the object up before it checks permission: staff without
    access to the model would get a redirect for an unknown id and a 403 for a real one,
    and so learn which shoppers exist. Here every id gets the 403, as in the change and
    delete pages.
    """

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)


@admin.register(User)
class UserAdmin(ShopperDataAdmin, DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserAddForm
    ordering = ["email"]
    list_display = ["email", "name", "language", "checked_in_at", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "language", "groups"]
    search_fields = ["email", "name"]
    readonly_fields = ["last_login", "date_joined", "checked_in_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Shopper"), {"fields": ["name", "language", "time_zone", "checked_in_at"]}),
        (
            _("Permissions"),
            {
                "fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"],
                "classes": ["collapse"],
            },
        ),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": [
                    "email",
                    "name",
                    "language",
                    "time_zone",
                    "usable_password",
                    "password1",
                    "password2",
                ],
            },
        ),
    ]


class CustomerIdentifierInline(admin.TabularInline):
    model = CustomerIdentifier
    extra = 1


class LinkCodeInline(admin.TabularInline):
    """Codes are shown for their state only; the clear code exists once, in a message."""

    model = LinkCode
    extra = 0
    can_delete = False
    fields = ["created_at", "expires_at", "used_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ShopperDataAdmin):
    list_display = ["__str__", "identifier_list", "user", "linked_at", "created_at"]
    list_filter = [("user", admin.EmptyFieldListFilter)]
    search_fields = ["identifiers__value", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "linked_at"]
    inlines = [CustomerIdentifierInline, LinkCodeInline]
    actions = ["create_link_code"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return super().get_queryset(request).select_related("user").prefetch_related("identifiers")

    @admin.display(description=_("identifiers"))
    def identifier_list(self, obj: Customer) -> str:
        return ", ".join(str(identifier) for identifier in obj.identifiers.all())

    @admin.action(description=_("Create a one-time link code"))
    def create_link_code(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset:
            issued = services.create_link_code(customer=customer)
            expires = formats.date_format(timezone.localtime(issued.expires_at), "DATETIME_FORMAT")
            self.message_user(
                request,
                _(
                    "%(customer)s: one-time link code %(code)s, valid until %(expires)s "
                    "(shown only now: give it to the shopper)."
                )
                % {"customer": customer, "code": issued.code, "expires": expires},
                messages.SUCCESS,
            )


@admin.register(ConsentEvent)
class ConsentEventAdmin(ShopperDataAdmin):
    """The consent log is append-only: it can be read here, never added to or edited."""

    list_display = ["at", "user", "purpose", "granted", "method", "text_version"]
    list_filter = ["purpose", "granted", "method"]
    search_fields = ["user__email"]
    date_hierarchy = "at"
    list_select_related = ["user", "text"]

    @admin.display(description=_("text version"), ordering="text__version")
    def text_version(self, obj: ConsentEvent) -> int:
        return obj.text.version

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PurposeText)
class PurposeTextAdmin(admin.ModelAdmin):
    """New versions may be published; a published version is never rewritten or removed,
    because consent events point at the exact text the shopper saw."""

    list_display = ["purpose", "version", "title", "material", "published_at"]
    list_filter = ["purpose", "material"]
    fields = ["purpose", "title", "body", "material", "version", "published_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: PurposeText | None = None) -> list:
        if obj is not None:
            return ["purpose", "version", "title", "body", "material", "published_at"]
        return ["version", "published_at"]

    def save_model(
        self, request: HttpRequest, obj: PurposeText, form: object, change: bool
    ) -> None:
        if not change:
            latest = PurposeText.objects.filter(purpose=obj.purpose).aggregate(v=Max("version"))
            obj.version = (latest["v"] or 0) + 1
            obj.published_at = timezone.now()
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ErasureRecord)
class ErasureRecordAdmin(admin.ModelAdmin):
    """Proof that erasures happened, for the privacy admin; nothing here names a shopper."""

    list_display = ["erased_at", "method", "total_rows"]
    list_filter = ["method"]
    date_hierarchy = "erased_at"
    readonly_fields = ["erased_at", "method", "row_counts"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
