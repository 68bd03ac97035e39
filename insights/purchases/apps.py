"""App configuration for purchases; registers its personal data with accounts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PurchasesConfig(AppConfig):
    name = "insights.purchases"
    label = "purchases"
    verbose_name = _("Purchases")

    def ready(self) -> None:
        from insights.purchases.personal_data import register_purchases_data

        register_purchases_data()
