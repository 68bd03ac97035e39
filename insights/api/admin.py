"""Admin for integration clients (create one, its key shown once; scope it; revoke it) and the
read-only log of their reads of customers' consents."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin import ShopperDataAdmin
from insights.api.models import ConsentRead, IntegrationClient, Scope


class IntegrationClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("What this client may do; give it only what it needs."),
    )

    class Meta:
        model = IntegrationClient
        fields = ["name", "scopes", "revoked_at"]

    def clean_scopes(self) -> list[str]:
        # Stored in the order of Scope, whatever order the boxes were ticked in.
        chosen = set(self.cleaned_data["scopes"])
        return [scope for scope in Scope.values if scope in chosen]


@admin.register(IntegrationClient)
class IntegrationClientAdmin(admin.ModelAdmin):
    form = IntegrationClientForm
    list_display = ["name", "key_prefix", "scope_list", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    @admin.display(description=_("scopes"))
    def scope_list(self, client: IntegrationClient) -> str:
        labels = dict(Scope.choices)
        return ", ".join(str(labels.get(scope, scope)) for scope in client.scopes) or "—"

    def get_fields(self, request: HttpRequest, obj: IntegrationClient | None = None) -> list[str]:
        if obj is None:
            return ["name", "scopes"]
        return ["name", "key_prefix", "scopes", "created_at", "last_used_at", "revoked_at"]

    def save_model(
        self, request: HttpRequest, obj: IntegrationClient, form: forms.ModelForm, change: bool
    ) -> None:
        key = None if change else obj.rotate_key()
        super().save_model(request, obj, form, change)
        if key is not None:
            # Only the hash is stored: this message is the one time anyone sees the key.
            messages.warning(
                request,
                _(
                    "The API key for %(name)s is %(key)s — copy it now: it is shown only "
                    "once and cannot be recovered."
                )
                % {"name": obj.name, "key": key},
            )

    @admin.action(description=_("Revoke the selected clients' keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[IntegrationClient]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(ConsentRead)
class ConsentReadAdmin(ShopperDataAdmin):
    """Which system read which customer's consents, and when: read-only, like any audit log."""

    list_display = ["at", "client", "customer"]
    list_filter = ["client"]
    date_hierarchy = "at"
    list_select_related = ["client", "customer"]
    readonly_fields = ["at", "client", "customer"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
