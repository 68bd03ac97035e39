"""The `money` and `quantity` template filters in English and Swedish."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from insights.purchases.templatetags.kvitto import money, percent, quantity


@pytest.mark.parametrize(
    ("language", "value", "expected"),
    [
        ("en", Decimal("1234.5"), "SEK\xa01,234.50"),
        ("en", Decimal("0.005"), "SEK\xa00.01"),
        ("en", Decimal("-12"), "-SEK\xa012.00"),
        ("sv", Decimal("1234.5"), "1\xa0234,50\xa0kr"),
        ("sv", Decimal("1234567.891"), "1\xa0234\xa0567,89\xa0kr"),
        ("sv", "-3", "-3,00\xa0kr"),
    ],
)
def test_money_formats_amounts_for_the_active_language(language, value, expected, settings):
    settings.CURRENCY = "SEK"
    with translation.override(language):
        assert money(value) == expected


def test_money_uses_the_given_currency_code_where_there_is_no_local_symbol():
    with translation.override("sv"):
        assert money(Decimal("5"), "EUR") == "5,00\xa0EUR"
    with translation.override("en"):
        assert money(Decimal("5"), "EUR") == "EUR\xa05.00"


def test_money_renders_nothing_for_a_missing_or_bad_value():
    assert money(None) == ""
    assert money("n/a") == ""


@pytest.mark.parametrize(
    "language, value, expected",
    [
        ("en", 22, "22%"),
        ("sv", 22, "22\xa0%"),
        ("en", 2.5, "3%"),
        ("sv", Decimal("100.0"), "100\xa0%"),
        ("en", "bad", ""),
        ("sv", None, ""),
    ],
)
def test_percent_writes_the_sign_as_the_language_does(language, value, expected):
    with translation.override(language):
        assert percent(value) == expected


def test_quantity_drops_trailing_zeros():
    with translation.override("sv"):
        assert quantity(Decimal("2.000")) == "2"
        assert quantity(Decimal("0.250")) == "0,25"
        assert quantity(Decimal("100.000")) == "100"


def test_other_apps_can_load_the_filters_as_kvitto():
    rendered = Template("{% load kvitto %}{{ amount|money }}").render(
        Context({"amount": Decimal("9.9")})
    )
    assert rendered == "SEK\xa09.90"
