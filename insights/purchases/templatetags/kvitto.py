"""`{% load kvitto %}`: money and quantities formatted for the active language."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import get_language, pgettext

register = template.Library()

# How a language writes an amount. Swedish puts the currency after the number and
# says "kr" for kronor; English leads with the ISO code ("SEK 1,234.50").
_AMOUNT_FIRST_LANGUAGES = {"sv", "da", "nb", "nn", "fi", "de", "fr"}
_LOCAL_SYMBOLS = {("sv", "SEK"): "kr", ("nb", "NOK"): "kr", ("da", "DKK"): "kr."}
NBSP = "\xa0"
CENT = Decimal("0.01")


def _to_decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _language() -> str:
    return (get_language() or settings.LANGUAGE_CODE).split("-")[0]


def currency_symbol(currency: str | None = None) -> str:
    """How the active language names the currency on its own: "SEK", or "kr" in Swedish.

    For a column header, a chart axis or a caption that names the currency of bare numbers.
    """
    code = currency or getattr(settings, "CURRENCY", "SEK")
    return _LOCAL_SYMBOLS.get((_language(), code), code)


def money_affixes(currency: str | None = None) -> tuple[str, str]:
    """What the active language writes before and after an amount's digits.

    ("SEK\xa0", "") in English, ("", "\xa0kr") in Swedish. For code that formats many
    amounts itself (the habit charts): look this up once and wrap each number, and the
    result reads as `money` writes it.
    """
    code = currency or getattr(settings, "CURRENCY", "SEK")
    if _language() in _AMOUNT_FIRST_LANGUAGES:
        return "", f"{NBSP}{currency_symbol(code)}"
    return f"{code}{NBSP}", ""


@register.filter
def money(value: object, currency: str | None = None) -> str:
    """Format an amount with grouping, two decimals and the currency, e.g. "SEK 1,234.50".

    `currency` defaults to settings.CURRENCY. Non-breaking spaces keep an amount on one
    line. Anything that is not a number renders as "". The same function serves Python
    code that writes amounts into sentences (`from ...kvitto import money`).
    """
    amount = _to_decimal(value)
    if amount is None:
        return ""
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    digits = number_format(abs(amount), decimal_pos=2, use_l10n=True, force_grouping=True)
    sign = "-" if amount < 0 else ""
    prefix, suffix = money_affixes(currency)
    return f"{sign}{prefix}{digits}{suffix}"


@register.filter
def percent(value: object) -> str:
    """A whole percentage as the active language writes it: "22%", or "22 %" in Swedish.

    Swedish (like French and German) puts a space before the sign; the translation of
    the pattern decides, with a non-breaking space so the sign never starts a line.
    Anything that is not a number renders as "".
    """
    number = _to_decimal(value)
    if number is None:
        return ""
    digits = number_format(number.quantize(Decimal(1), rounding=ROUND_HALF_UP), use_l10n=True)
    return pgettext("a percentage; %(p)s is the number", "%(p)s%%") % {"p": digits}


@register.filter
def quantity(value: object) -> str:
    """A quantity without trailing zeros: 1.000 → "1", 0.500 → "0.5" (localised)."""
    amount = _to_decimal(value)
    if amount is None:
        return ""
    # normalize() alone turns 100 into 1E+2; whole numbers are quantized instead.
    normalised = amount.to_integral() if amount == amount.to_integral() else amount.normalize()
    places = max(0, -normalised.as_tuple().exponent)
    return number_format(normalised, decimal_pos=places, use_l10n=True, force_grouping=True)
