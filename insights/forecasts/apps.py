"""App configuration for forecasts, and its answers to history and consent signals."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ForecastsConfig(AppConfig):
    name = "insights.forecasts"
    label = "forecasts"
    verbose_name = _("Forecasts")

    def ready(self) -> None:
        from accounts.consent import consent_granted, consent_withdrawn
        from insights.forecasts import receivers
        from insights.forecasts.personal_data import register_forecasts_data
        from insights.purchases.signals import history_changed

        history_changed.connect(receivers.on_history_changed, dispatch_uid="forecasts.history")
        consent_granted.connect(receivers.on_consent_granted, dispatch_uid="forecasts.granted")
        consent_withdrawn.connect(
            receivers.on_consent_withdrawn, dispatch_uid="forecasts.withdrawn"
        )
        register_forecasts_data()
