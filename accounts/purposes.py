"""The registry of processing purposes: what each is for and whether it can be switched."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Purpose:
    key: str
    title: Promise
    summary: Promise
    switchable: bool = True
    # What the shopper gets in return, said at check-in and on the feature gate.
    benefit: Promise | str = ""


NECESSARY = "necessary"
INSIGHTS = "insights"
PREDICTIONS = "predictions"
PANTRY = "pantry"
EMAIL = "email"
MODEL_IMPROVEMENT = "model_improvement"

PURPOSES: dict[str, Purpose] = {
    p.key: p
    for p in [
        Purpose(
            NECESSARY,
            _("Your purchase history"),
            _(
                "Storing and showing the receipts the store already holds for you. "
                "This is the service itself, so it cannot be switched off; "
                "you can download or erase it at any time."
            ),
            switchable=False,
        ),
        Purpose(
            INSIGHTS,
            _("Habit summaries"),
            _(
                "Analysing your purchases into summaries: where the money goes, "
                "when you shop and what changed."
            ),
            benefit=_(
                "Monthly spending by category, your shopping rhythm, and what changed "
                "since last month."
            ),
        ),
        Purpose(
            PREDICTIONS,
            _("Predicted shopping list"),
            _("Predicting what you will need on your next trip, and when, from what you buy."),
            benefit=_("A list ready before you leave home, with the reason for each item."),
        ),
        Purpose(
            PANTRY,
            _("Pantry and best-before reminders"),
            _(
                "Tracking the best-before dates of what you bought and reminding you "
                "in the app before food goes to waste."
            ),
            benefit=_(
                "Less food in the bin: a nudge a day or two before something passes its date."
            ),
        ),
        Purpose(
            EMAIL,
            _("E-mail"),
            _("Sending reminders and your shopping list to you by e-mail."),
            benefit=_("Reminders and your list in your inbox, without opening Kvitto."),
        ),
        Purpose(
            MODEL_IMPROVEMENT,
            _("Help improve predictions"),
            _(
                "Letting your anonymised history help the predictions for other shoppers. "
                "Nothing that identifies you leaves your account."
            ),
            benefit=_("Better predictions for every shopper, including you, as more take part."),
        ),
    ]
}

SWITCHABLE = [key for key, purpose in PURPOSES.items() if purpose.switchable]
PURPOSE_CHOICES = [(key, purpose.title) for key, purpose in PURPOSES.items()]
