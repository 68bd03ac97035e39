"""Version 1 of every switchable purpose's text: what a fresh database publishes.

Migration 0002 publishes these, and a post_migrate handler publishes any that are missing
(a database flushed by transactional tests, or a purpose added later), so consent can
always refer to a text. Later versions are published by admins and never come from here.
"""

from django.utils.translation import gettext_noop

# Marked, not translated: the stored version is the English text; the consent page shows
# it translated when the catalogue has it (an admin's later version is shown as written).
FIRST_TEXTS = {
    "insights": (
        gettext_noop("Habit summaries"),
        gettext_noop(
            "We analyse your purchases into summaries: where the money goes, when you shop "
            "and what changed. Derived summaries are deleted when you withdraw."
        ),
    ),
    "predictions": (
        gettext_noop("Predicted shopping list"),
        gettext_noop(
            "We predict what you will need on your next trip, and when, from what you buy. "
            "Forecasts and suggestions are deleted when you withdraw."
        ),
    ),
    "pantry": (
        gettext_noop("Pantry and best-before reminders"),
        gettext_noop(
            "We track the best-before dates of what you bought and remind you in the app "
            "before food goes to waste. Pantry items and reminders are deleted when you "
            "withdraw."
        ),
    ),
    "email": (
        gettext_noop("E-mail"),
        gettext_noop("We send reminders and your shopping list to your e-mail address."),
    ),
    "model_improvement": (
        gettext_noop("Help improve predictions"),
        gettext_noop(
            "Your anonymised history may help the predictions for other shoppers. "
            "Nothing that identifies you leaves your account."
        ),
    ),
}


def publish_missing_first_texts(purpose_text_model, using: str = "default") -> None:  # noqa: ANN001
    """Publish version 1 of each purpose that has no text at all; never touches others."""
    have = set(purpose_text_model.objects.using(using).values_list("purpose", flat=True).distinct())
    for purpose, (title, body) in FIRST_TEXTS.items():
        if purpose not in have:
            purpose_text_model.objects.using(using).get_or_create(
                purpose=purpose, version=1, defaults={"title": title, "body": body}
            )
