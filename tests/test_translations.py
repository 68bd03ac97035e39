"""The Swedish catalogue: complete, placeholder-safe, compiled by polib, and used by the pages."""

import ast
import gettext
import io
import os
import re
import shutil
import tokenize
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polib
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils.translation import override as language_override
from django.utils.translation.template import templatize

from accounts.consent import set_consent
from accounts.data_rights import readme_text
from accounts.models import PurposeText
from accounts.purposes import EMAIL, INSIGHTS, PANTRY, PREDICTIONS
from insights.compile_translations import compile_all
from insights.habits import tasks as habit_tasks
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, UserFactory
from tests.forecasts.factories import stored_list
from tests.habits.factories import shop
from tests.pantry.factories import PantryItemFactory, grant

ROOT = Path(settings.BASE_DIR)
CATALOGUES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))
MAKEMESSAGES = (
    ".venv/bin/python manage.py makemessages -l sv "
    "--ignore=.venv --ignore=var --ignore=staticfiles --ignore=tests"
)
# What makemessages reads: the same folders left out as in the command above.
SKIPPED_DIRS = {".venv", "var", "staticfiles", "tests", "locale", ".git", "node_modules"}

# %(name)s, %s, %d, %02d, %.1f ... and {name}; %% is a literal percent sign, not a placeholder.
PLACEHOLDER = re.compile(
    r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|\{[A-Za-z_][A-Za-z0-9_]*\}"
)
TRANSLATION_CALLS = {
    "_": ("msgid",),
    "gettext": ("msgid",),
    "gettext_lazy": ("msgid",),
    "gettext_noop": ("msgid",),
    "ngettext": ("msgid", "plural"),
    "ngettext_lazy": ("msgid", "plural"),
    "pgettext": ("context", "msgid"),
    "pgettext_lazy": ("context", "msgid"),
    "npgettext": ("context", "msgid", "plural"),
    "npgettext_lazy": ("context", "msgid", "plural"),
}


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


def test_there_is_a_swedish_catalogue():
    assert ROOT / "locale" / "sv" / "LC_MESSAGES" / "django.po" in CATALOGUES


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_entry_is_translated_and_none_is_fuzzy(path):
    catalogue = polib.pofile(str(path))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not untranslated, f"untranslated in {path.name}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {path.name}: {fuzzy[:10]}"
    assert not catalogue.metadata_is_fuzzy
    assert catalogue.metadata["Language"] == path.parent.parent.name
    assert catalogue.metadata["Plural-Forms"]


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_placeholders_match_between_msgid_and_msgstr(path):
    catalogue = polib.pofile(str(path))
    wrong = []
    for entry in catalogue.translated_entries():
        if entry.msgid_plural:
            pairs = [
                # Form 0 may drop the count ("every day" for 1), never invent a placeholder.
                (entry.msgid, text, False) if form == 0 else (entry.msgid_plural, text, True)
                for form, text in sorted(entry.msgstr_plural.items())
            ]
            known = set(placeholders(entry.msgid) + placeholders(entry.msgid_plural))
        else:
            pairs = [(entry.msgid, entry.msgstr, True)]
            known = set(placeholders(entry.msgid))
        for source, translation, exact in pairs:
            found = placeholders(translation)
            if (exact and found != placeholders(source)) or not set(found) <= known:
                wrong.append((source, translation))
            # A lone % would break "%"-formatting; literal percent signs stay doubled.
            if "python-format" in entry.flags and source.count("%%") != translation.count("%%"):
                wrong.append((source, translation))
    assert not wrong, wrong


def test_the_catalogues_compile_with_polib_and_load_with_plural_forms(tmp_path):
    locale = tmp_path / "locale"
    shutil.copytree(ROOT / "locale", locale, ignore=shutil.ignore_patterns("*.mo"))
    written = compile_all(locale)
    assert {p.with_suffix(".po").name for p in written} == {p.name for p in CATALOGUES}
    with (locale / "sv" / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        swedish = gettext.GNUTranslations(mo)
    assert swedish.gettext("Shopping list") == "Inköpslista"
    assert swedish.ngettext("%(n)s trip", "%(n)s trips", 1) == "%(n)s inköp"
    one = swedish.ngettext("%(count)s item to buy", "%(count)s items to buy", 1)
    many = swedish.ngettext("%(count)s item to buy", "%(count)s items to buy", 3)
    assert (one, many) == ("%(count)s vara att köpa", "%(count)s varor att köpa")
    assert swedish.pgettext("order row date format", "D j M, H:i") == "D j b, H:i"


def _marked_in_python(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        roles = TRANSLATION_CALLS.get(name)
        if roles is None or len(node.args) < len(roles):
            continue
        args = node.args[: len(roles)]
        if all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            yield dict(zip(roles, (a.value for a in args), strict=True)), path


def _marked_in_template(path: Path):
    # Django's own template-to-gettext conversion (what makemessages feeds xgettext).
    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    # Only the calls matter; indentation left over from the HTML would confuse tokenize.
    code = "\n".join(line.lstrip() for line in code.splitlines())
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(code).readline)
        if t.type in (tokenize.NAME, tokenize.STRING, tokenize.OP)
    ]
    for index, token in enumerate(tokens):
        roles = TRANSLATION_CALLS.get(token.string) if token.type == tokenize.NAME else None
        if roles is None or index + 1 >= len(tokens) or tokens[index + 1].string != "(":
            continue
        values = []
        for arg in tokens[index + 2 : index + 2 + 2 * len(roles)]:
            if arg.type == tokenize.STRING:
                values.append(ast.literal_eval(arg.string))
        if len(values) >= len(roles):
            yield dict(zip(roles, values[: len(roles)], strict=True)), path


def _marked_strings():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix == ".py":
                yield from _marked_in_python(path)
            elif path.suffix in (".html", ".txt") and "templates" in path.relative_to(ROOT).parts:
                yield from _marked_in_template(path)


def test_every_marked_string_in_the_code_is_in_the_catalogue():
    """Catches a string marked after the last makemessages run, without needing xgettext."""
    catalogue = polib.pofile(str(ROOT / "locale" / "sv" / "LC_MESSAGES" / "django.po"))
    known = {(e.msgctxt, e.msgid): e.msgid_plural for e in catalogue if not e.obsolete}
    missing = []
    marked = list(_marked_strings())
    assert len(marked) > 500, "the extraction found too little to be trusted"
    for found, path in marked:
        key = (found.get("context"), found["msgid"])
        if key not in known or (found.get("plural") and known[key] != found["plural"]):
            missing.append(f"{path.relative_to(ROOT)}: {found['msgid'][:70]!r}")
    assert not missing, f"run `{MAKEMESSAGES}` and translate: {missing}"


TRANSLATE_TAG_WITH_ESCAPED_QUOTE = re.compile(r"{%\s*trans(?:late)?\s+(\"|')(?:(?!\1).)*\\\1")


def test_no_translate_tag_escapes_a_quote_inside_its_string():
    """templatize (and so makemessages) ends the string at an escaped quote: `\\"Now\\"` was
    extracted as a lone backslash and the real sentence never reached the catalogue."""
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)[:60]}"
        for path in (ROOT / "templates").rglob("*.html")
        for match in TRANSLATE_TAG_WITH_ESCAPED_QUOTE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "use the other quote character around the string: " + str(offenders)


# --- Pages in Swedish ------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_catalogue(settings, tmp_path):
    """Compile the current .po (not a stale .mo) and make Django reload its catalogues."""
    locale = tmp_path / "compiled-locale"
    shutil.copytree(ROOT / "locale", locale, ignore=shutil.ignore_patterns("*.mo"))
    compile_all(locale)
    settings.LOCALE_PATHS = [locale]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def sven(db):
    user = UserFactory(email="sven@example.com", name="Sven Svensson", language="sv")
    CustomerFactory(user=user)
    return user


@pytest.fixture
def sven_client(client, sven):
    client.force_login(sven)
    return client


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_purchase_history_is_in_swedish_with_swedish_dates(sven, sven_client, frozen):
    order = OrderFactory(
        customer=sven.customer, placed_at=datetime(2026, 11, 5, 13, 30, tzinfo=UTC)
    )
    OrderLineFactory(order=order, line_no=1, amount_paid=Decimal("12.50"))
    body = _page(sven_client, reverse("purchases:history"))
    assert '<html lang="sv">' in body
    assert "Din inköpshistorik" in body and "Your purchase history" not in body
    assert "Historik" in body and "Log out" not in body
    # Thursday 5 November 13:30 UTC: Swedish abbreviations, in the default Stockholm time.
    assert ">tors 5 nov, 14:30</time>" in body


def test_an_order_is_in_swedish(sven, sven_client, frozen):
    order = OrderFactory(
        customer=sven.customer, placed_at=datetime(2026, 11, 5, 13, 30, tzinfo=UTC)
    )
    OrderLineFactory(order=order, line_no=1, amount_paid=Decimal("12.50"))
    body = _page(sven_client, reverse("purchases:order", args=[order.pk]))
    assert "Det här köpte du" in body and "What you bought" not in body
    assert "Order från 5 nov 2026" in body


def test_the_habits_page_is_in_swedish(sven, sven_client):
    shop(sven, start=datetime(2026, 8, 3, 9, tzinfo=UTC), trips=30)
    grant(sven, INSIGHTS)
    with time_machine.travel(NOW, tick=False):
        habit_tasks.refresh_habits_task(sven.pk)
        body = _page(sven_client, reverse("habits:index") + "?period=3m")
    assert "Dina vanor" in body and "Your habits" not in body
    assert "Vart pengarna går" in body and "Where the money goes" not in body
    assert "Inköp per veckodag och timme" in body and "Trips by weekday" not in body


def test_the_shopping_list_is_in_swedish(sven, sven_client, frozen):
    stored_list(sven)
    grant(sven, PREDICTIONS)
    body = _page(sven_client, reverse("forecasts:index"))
    assert "Inköpslista" in body and "Shopping list" not in body
    assert "köpt 7 gånger sedan maj" in body and "bought 7 times" not in body


def test_the_pantry_is_in_swedish_with_swedish_dates(sven, sven_client, frozen):
    PantryItemFactory(user=sven, best_before=date(2026, 11, 22))
    grant(sven, PANTRY)
    body = _page(sven_client, reverse("pantry:index"))
    assert "Skafferi" in body and "Pantry" not in body
    assert "Bäst före 22 nov" in body and "Best before" not in body


def test_the_privacy_page_shows_the_purposes_and_their_full_text_in_swedish(sven_client):
    body = _page(sven_client, reverse("privacy:centre"))
    assert "Integritet och samtycke" in body and "Privacy and consent" not in body
    # Version 1 of the full text is stored in English and shown from the catalogue.
    assert "Vi sammanställer dina köp" in body
    assert "We analyse your purchases" not in body


def test_check_in_is_in_swedish(client, db):
    newcomer = UserFactory(email="dana@example.com", name="Dana", language="sv")
    client.force_login(newcomer)
    body = _page(client, reverse("accounts:check_in"))
    assert "Spara mina val" in body and "Save my choices" not in body
    assert "Förutsagd inköpslista" in body


def test_the_login_page_follows_the_browser_language(client, db):
    body = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Välkommen tillbaka" in body and "Welcome back" not in body
    english = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Welcome back" in english and "Välkommen tillbaka" not in english


def test_the_header_switch_turns_the_site_swedish_and_back_for_a_visitor(client, db):
    switch = reverse("accounts:set_language")
    response = client.post(
        switch, {"language": "sv", "next": reverse("accounts:login")}, follow=True
    )
    assert "Välkommen tillbaka" in response.content.decode()
    assert 'value="sv" class="lang current"' in response.content.decode()
    response = client.post(
        switch, {"language": "en", "next": reverse("accounts:login")}, follow=True
    )
    assert "Welcome back" in response.content.decode()


def test_the_header_switch_turns_a_shoppers_pages_swedish_and_remembers_it(alice, alice_client):
    response = alice_client.post(
        reverse("accounts:set_language"),
        {"language": "sv", "next": reverse("purchases:history")},
        follow=True,
    )
    assert "Din inköpshistorik" in response.content.decode()
    alice.refresh_from_db()
    assert alice.language == "sv"
    # A new session (another device) still gets Swedish: it is the shopper's own setting.
    alice_client.logout()
    alice_client.force_login(alice)
    assert "Din inköpshistorik" in _page(alice_client, reverse("purchases:history"))


def test_a_decision_shows_the_text_the_shopper_saw_in_swedish_with_swedish_dates(
    sven, sven_client, frozen
):
    PurposeText.objects.filter(purpose=INSIGHTS, version=1).update(
        published_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    )
    event = set_consent(user=sven, purpose=INSIGHTS, granted=True, method="consent_centre")
    body = _page(sven_client, reverse("privacy:decision", args=[event.receipt_id]))
    assert "Du slog på Vanor" in body and "You switched on" not in body
    assert ">20 nov 2026, 11:00</time>" in body
    assert "Publicerad 2 mar 2026." in body
    # Version 1 is stored in English; the shopper saw (and sees here) the Swedish text.
    assert "Vi sammanställer dina köp" in body and "We analyse your purchases" not in body
    assert "via integritetsinställningarna" in body


def test_the_review_page_is_in_swedish_and_shows_an_admins_new_text_as_written(sven, sven_client):
    set_consent(user=sven, purpose=INSIGHTS, granted=True, method="check_in")
    PurposeText.objects.create(
        purpose=INSIGHTS, version=2, title="Vanor", body="Ny text, skriven av admin.", material=True
    )
    body = _page(sven_client, reverse("privacy:review"))
    assert "Ändrade integritetstexter" in body and "Changed privacy texts" not in body
    assert "Ny text (version 2)" in body and "Ny text, skriven av admin." in body
    assert "Det du godkände (version 1)" in body and "Vi sammanställer dina köp" in body
    assert "Stäng av Vanor" in body


def test_the_re_consent_prompt_in_the_header_is_in_swedish(sven, sven_client):
    for purpose in (INSIGHTS, EMAIL):
        set_consent(user=sven, purpose=purpose, granted=True, method="check_in")
        PurposeText.objects.create(purpose=purpose, version=2, title="t", body="b", material=True)
    sven_client.force_login(sven)  # the prompt's list is computed at login
    body = _page(sven_client, reverse("purchases:history"))
    assert "Texten för 2 av dina integritetsval har ändrats. Läs dem och svara." in body
    assert "Gå igenom ändringarna" in body


@pytest.fixture
def swedish_privacy_admin(client, db):
    admin = UserFactory(email="pia@example.com", name="Pia", language="sv", is_staff=True)
    admin.user_permissions.add(
        Permission.objects.get(codename="view_consentevent", content_type__app_label="accounts")
    )
    client.force_login(admin)
    return client


def test_the_privacy_admins_pages_are_in_swedish(swedish_privacy_admin):
    statistics = _page(swedish_privacy_admin, reverse("privacy:statistics"))
    assert "Statistik över samtycken" in statistics and "Consent statistics" not in statistics
    assert "”Nu” räknar varje kund en gång" in statistics
    register = _page(swedish_privacy_admin, reverse("privacy:register"))
    assert "Register över behandlingar (GDPR art. 30)" in register
    assert "Rättslig grund" in register and "Lawful basis" not in register
    assert "samtycke (GDPR art. 6(1)(a))" in register and "avtal (GDPR art. 6(1)(b))" in register
    assert "pausas tills kunden svarar" in register


def test_the_register_command_writes_swedish_when_asked(db):
    out = io.StringIO()
    call_command("processing_register", "--language", "sv", stdout=out)
    text = out.getvalue()
    assert text.startswith("# Register över behandlingar (GDPR art. 30)")
    assert "## Personuppgiftsansvarig" in text and "### Vanor (`insights`)" in text
    assert "- Överföring till tredjeland: Inga." in text
    assert "Lawful basis" not in text and "Data subjects" not in text


def test_the_your_data_page_is_in_swedish(sven_client):
    body = _page(sven_client, reverse("accounts:data"))
    assert "Dina uppgifter" in body and "Your data" not in body
    assert "Förbered en kopia av mina uppgifter" in body and "Radera ditt konto" in body


def test_the_readme_of_a_copy_is_in_the_shoppers_language_with_plural_periods(sven, settings):
    settings.RETENTION_ORDERS_MONTHS = 1
    with language_override(sven.language):
        readme = readme_text(user=sven, generated_at=NOW, counts={})
    title, underline = readme.splitlines()[:2]
    assert title == "Dina uppgifter från Kvitto" and underline == "=" * len(title)
    assert "Sparas: 1 månad efter köpet" in readme
    assert "Ändamål: Din inköpshistorik" in readme and "Purpose:" not in readme
