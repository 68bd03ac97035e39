"""App configuration for pantry; connects the receivers for receipts, consent and exports."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PantryConfig(AppConfig):
    name = "insights.pantry"
    label = "pantry"
    verbose_name = _("Pantry")

    def ready(self) -> None:
        from accounts.consent import consent_granted, consent_withdrawn
        from accounts.data_rights import data_export_ready
        from insights.pantry import receivers
        from insights.pantry.personal_data import register_pantry_data
        from insights.purchases.signals import history_changed

        history_changed.connect(receivers.on_history_changed, dispatch_uid="pantry.history")
        consent_granted.connect(receivers.on_consent_granted, dispatch_uid="pantry.granted")
        consent_withdrawn.connect(receivers.on_consent_withdrawn, dispatch_uid="pantry.withdrawn")
        data_export_ready.connect(receivers.on_data_export_ready, dispatch_uid="pantry.export")
        register_pantry_data()
