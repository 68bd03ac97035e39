"""Password validators beyond Django's, for a long minimum length (ASVS 5.0 6.2.4, 6.2.11).

Asked for a long password, people pad or repeat a short common one ("sunshine2024!!!!",
"qwertyqwertyqwerty") or build it from words tied to the site ("Kvitto2025!!!!!"). Django's
list of 20,000 common passwords holds few of 15 characters or more, so on its own it would
not block the commonest passwords that meet Kvitto's minimum. These validators check the
forms that padding and repetition make from that list, and Kvitto's context words. They set
no composition rule (ASVS 6.2.5): any characters are fine, only guessable shapes are not.
Both lists are described in docs/security.md.
"""

import re

from django.contrib.auth.password_validation import CommonPasswordValidator
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
# Digits, spaces and signs padding a password at either end.
_PADDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_SEPARATORS = re.compile(r"[\W_]+")
# A unit repeated to fill the length, with an optional partial repeat at the end.
_REPEATED = re.compile(r"^(.+?)\1+(.*)$", re.DOTALL)


class PaddedCommonPasswordValidator(CommonPasswordValidator):
    """Refuses a common password padded with digits or signs, or repeated to length."""

    def validate(self, password: str, user: object = None) -> None:
        plain = password.lower().strip()
        for form in self._forms(plain):
            if form and form in self.passwords:
                raise ValidationError(self.get_error_message(), code="password_too_common")

    @staticmethod
    def _forms(plain: str) -> set[str]:
        """The password, its core without padding, and the unit it repeats, each also
        without spaces and signs ("iloveyou iloveyou" repeats "iloveyou")."""
        compact = _SEPARATORS.sub("", plain)
        forms = {_PADDING.sub("", plain), compact, _PADDING.sub("", compact)}
        for text in (plain, compact):
            repeated = _REPEATED.match(text)
            if repeated and repeated.group(1).startswith(repeated.group(2)):
                forms |= {repeated.group(1), _PADDING.sub("", repeated.group(1))}
        return forms

    def get_help_text(self) -> str:
        return _("Not a common password, even padded with digits or repeated.")


class ContextWordsValidator:
    """Refuses a password whose letters, read without case, are only Kvitto's context words.

    "Kvitto2025!!!!!" and "receipts-receipts" are refused; a sentence that merely contains
    such a word is fine.
    """

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
