"""Browser fixtures: one Debian Chromium for the package, a context per test, page checks.

Playwright's sync API keeps an asyncio loop in this thread, and Django refuses ORM calls
from a thread with a running loop (SynchronousOnlyOperation). The tests here set up data
and read it back between browser steps, never concurrently with them, so the guard is
lifted while the browser lives (`DJANGO_ALLOW_ASYNC_UNSAFE`, set by the package-scoped
browser fixture and removed with it), not for the rest of the suite.

Celery runs eagerly, also inside the live server's request threads: a grant, a link or an
export does its work before the response, as a worker would a moment later.

Screenshots go to var/e2e/<test>/ (gitignored), one per step, full page.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import override as language_override

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
SHOTS = Path(settings.BASE_DIR) / "var" / "e2e"
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1366, "height": 900}},
}
LOAD_FAILED = "Failed to load resource: the server responded with a status of 4"
ASSETS = {"stylesheet", "script", "image", "font"}
# Long enough for a page whose request runs a refresh eagerly on a busy 2-core machine.
STEP_TIMEOUT_MS = 20_000


def t(lang: str, msgid: str, **params: object) -> str:
    """`msgid` as the catalogue says it in `lang`, with its %(name)s placeholders filled."""
    with language_override(lang):
        text = gettext(msgid)
    return text % params if params else text


@cache
def english_phrases() -> tuple[str, ...]:
    """English catalogue phrases whose Swedish differs: none may show on a Swedish page.

    Only phrases of four words or more without placeholders, so a product name or a word
    that is the same in both languages cannot match by chance.
    """
    catalogue = polib.pofile(str(Path(settings.BASE_DIR) / "locale/sv/LC_MESSAGES/django.po"))
    phrases = []
    for entry in catalogue.translated_entries():
        msgid = entry.msgid
        if entry.msgctxt or entry.msgid_plural or "%" in msgid or "{" in msgid or "\n" in msgid:
            continue
        if len(msgid.split()) >= 4 and entry.msgstr.strip() != msgid.strip():
            phrases.append(msgid)
    return tuple(sorted(phrases, key=len, reverse=True))


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Debian's Chromium, launched once for every browser test."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium); "
            "Playwright's own browser download does not work here."
        )
    from playwright.sync_api import sync_playwright

    # For as long as Playwright's loop lives: the tests, and the database flush after each.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _browser_test_environment() -> Iterator[None]:
    from insights.celery import app
    from insights.forecasts import services as forecast_services

    # The payload cache is keyed by model id, and ids restart after each test's flush.
    forecast_services._payload_cache.clear()
    conf = app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved
    forecast_services._payload_cache.clear()


@dataclass
class Visit:
    """One shopper's browser tab, in one language and viewport, checked after every step."""

    page: object
    base_url: str
    lang: str  # the language the pages are in now
    target: str  # the language the test is about, reached with the header's switcher
    viewport: str
    shots: Path
    problems: list[str] = field(default_factory=list)
    _shot_no: int = 0

    def t(self, msgid: str, **params: object) -> str:
        return t(self.lang, msgid, **params)

    def text(self, lazy: object) -> str:
        """A lazily translated string (a purpose's title) in this visit's language."""
        with language_override(self.lang):
            return str(lazy)

    def number(self, value: str, decimals: int = 2) -> str:
        """A number as the pages write it in this language (12.45, or 12,45 in Swedish)."""
        with language_override(self.lang):
            return number_format(Decimal(value), decimals)

    def money(self, value: str) -> str:
        """An amount as the pages write it in this language (SEK 12.45, or 12,45 kr)."""
        from insights.purchases.templatetags.kvitto import money

        with language_override(self.lang):
            return money(Decimal(value))

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def switch_language(self, lang: str) -> None:
        """The header's language buttons, as a shopper would press them."""
        with self.page.expect_navigation():
            self.page.locator(f"form.lang-switch button[value='{lang}']").click()
        self.lang = lang

    def h1(self) -> str:
        return self.page.locator("main h1").first.inner_text().strip()

    def check(self, name: str) -> None:
        """Screenshot the page, then assert it is whole: language, width, errors."""
        page = self.page
        page.wait_for_load_state("load")
        self._shot_no += 1
        # From the top, so the sticky header is drawn where it belongs in the full page.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(self.shots / f"{self._shot_no:02d}-{name}.png"), full_page=True)
        assert page.locator("html").get_attribute("lang") == self.lang, name
        # A phone must never need sideways scrolling to read a page.
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: the page is {overflow}px wider than the {self.viewport}"
        if self.lang != "en":
            text = page.inner_text("body")
            english = [p for p in english_phrases() if p in text]
            assert not english, f"{name}: untranslated on the {self.lang} page: {english}"
        assert not self.problems, f"{name}: {self.problems}"


@pytest.fixture
def open_visit(browser, live_server, request) -> Iterator[object]:
    """Factory: `open_visit(lang, viewport)` gives a fresh browser context as a Visit."""
    contexts = []
    test_dir = SHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(test_dir, ignore_errors=True)
    test_dir.mkdir(parents=True)

    def open_(lang: str, viewport: str) -> Visit:
        context = browser.new_context(
            locale="en-GB",
            timezone_id="Europe/Stockholm",
            accept_downloads=True,
            **VIEWPORTS[viewport],
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        # The browser asks for English; Swedish comes from the header's switcher.
        visit = Visit(page, live_server.url, "en", lang, viewport, test_dir)

        def on_console(message: object) -> None:
            # A refused page (400 for a wrong password) is logged too; responses are
            # judged below, where a page and a missing stylesheet can be told apart.
            if message.type == "error" and not message.text.startswith(LOAD_FAILED):
                visit.problems.append(f"console: {message.text}")

        def on_response(response: object) -> None:
            asset = response.request.resource_type in ASSETS
            if response.status >= 500 or (asset and response.status >= 400):
                visit.problems.append(f"{response.status} from {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: visit.problems.append(f"script: {error}"))
        page.on("response", on_response)
        return visit

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def store(transactional_db):
    from tests.e2e.world import Store

    return Store.open()
