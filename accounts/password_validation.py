"""A password validator for words tied to Kvitto itself (ASVS 6.1.2 and 6.2.11).

Django's validators already refuse the 20,000 commonest passwords and ones like the
shopper's name or e-mail address. This one refuses passwords built only from the words
an attacker guessing at a grocery-receipt app would try first, whatever digits, spaces or
signs are mixed in: "Kvitto2025!!!!!", "receipts-receipts". A sentence that merely
contains such a word is fine. The list is documented in docs/security.md.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CONTEXT_WORDS = (
    "kvitto",
    "kvitton",
    "receipt",
    "receipts",
    "grocery",
    "groceries",
    "shopping",
    "shopper",
    "handla",
    "matkasse",
    "password",
    "lösenord",
    "losenord",
    "admin",
    "demo",
)

_ONLY_CONTEXT_WORDS = re.compile(
    "(?:" + "|".join(sorted(map(re.escape, CONTEXT_WORDS), key=len, reverse=True)) + ")+"
)


class ContextWordsValidator:
    """Refuses a password whose letters, read without case, are only Kvitto's context words."""

    def validate(self, password: str, user: object = None) -> None:
        letters = "".join(ch for ch in password.casefold() if ch.isalpha())
        if letters and _ONLY_CONTEXT_WORDS.fullmatch(letters):
            raise ValidationError(
                _(
                    "This password is made only of words like “Kvitto”, “receipt” or "
                    "“password”, which are guessed first. Add words of your own."
                ),
                code="password_context_words",
            )

    def get_help_text(self) -> str:
        return _("Not made only of words like “Kvitto”, “receipt” or “password”.")
