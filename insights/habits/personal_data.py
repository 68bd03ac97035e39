"""Habit rows as personal data, registered with accounts for export and erasure."""

from django.utils.translation import gettext_lazy as _

from accounts.personal_data import model_data_class, register
from accounts.purposes import INSIGHTS
from insights.habits.models import HabitHighlight, HabitSnapshot

SOURCE = _("Computed by Kvitto from your orders.")
KEPT = _(
    "While Habit summaries is on; recomputed when new receipts arrive and deleted when you "
    "switch it off."
)


def register_habits_data() -> None:
    register(
        model_data_class(
            key="habits.snapshots",
            model=HabitSnapshot,
            title=_("Habit summaries"),
            purpose=INSIGHTS,
            holds=_(
                "Your aggregates per period (last 4 weeks, 3 months, 12 months or dates you "
                "chose): spending by category, shopping rhythm and the like, as JSON."
            ),
            source=SOURCE,
            queryset=lambda s: HabitSnapshot.objects.filter(user_id=s.user_id),
            columns={
                "period": "period",
                "start": "start",
                "end": "end",
                "status": "status",
                "state": "state",
                "data": "data",
                "computed_at": "computed_at",
            },
            kept=KEPT,
        ),
        model_data_class(
            key="habits.highlights",
            model=HabitHighlight,
            title=_("What changed"),
            purpose=INSIGHTS,
            holds=_("The 'what changed' cards of each summary and whether you dismissed them."),
            source=SOURCE,
            queryset=lambda s: HabitHighlight.objects.filter(user_id=s.user_id),
            columns={
                "period": "snapshot__period",
                "key": "key",
                "kind": "kind",
                "params": "params",
                "dismissed_at": "dismissed_at",
            },
            kept=KEPT,
        ),
    )
