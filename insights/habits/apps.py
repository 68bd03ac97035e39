"""App configuration for habits, and the signals that keep habit rows in step."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HabitsConfig(AppConfig):
    name = "insights.habits"
    label = "habits"
    verbose_name = _("Habits")

    def ready(self) -> None:
        from accounts.consent import consent_granted, consent_withdrawn
        from insights.habits import receivers
        from insights.habits.personal_data import register_habits_data
        from insights.purchases.signals import history_changed

        history_changed.connect(receivers.history_changed, dispatch_uid="habits.history")
        consent_granted.connect(receivers.consent_granted, dispatch_uid="habits.granted")
        consent_withdrawn.connect(receivers.consent_withdrawn, dispatch_uid="habits.withdrawn")
        register_habits_data()
