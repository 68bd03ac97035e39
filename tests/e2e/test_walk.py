"""Every page of a shopper with a history, in the language and viewport pairs the journey skips.

`test_journey.py` takes a new shopper through everything in English on a desktop and in
Swedish on a phone. Here a shopper who already checked in logs in with the real form (then
switches to Swedish with the header's buttons where the pair asks for it), in English on
a phone and in Swedish on a desktop, and visits every page once: its heading in
the right language, its content there, and the page checks of `Visit.check` (no sideways
scrolling, no English left on a Swedish page, no script, CSP or server error).
"""

import re

import pytest

from insights.pantry.services import send_due_reminders
from tests.e2e.world import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EMAIL = "bertil.e2e@example.com"


def log_in(visit, user) -> None:
    """The real login form; then the header's switcher, which a logged-in shopper's profile
    remembers (the profile's language is the one used after every later login)."""
    page = visit.page
    visit.goto("/accounts/login/")
    assert visit.h1() == visit.t("Welcome back")
    visit.check("login")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/history/")
    if visit.target != visit.lang:
        visit.switch_language(visit.target)
        page.wait_for_url("**/history/")
        user.refresh_from_db()
        assert user.language == visit.target


def nav(visit, path: str) -> None:
    """Follow the header's link to `path`, as a shopper would."""
    visit.page.locator(f".main-nav a[href='{path}']").click()
    visit.page.wait_for_url(f"**{path}")


def account_menu(visit, path: str) -> None:
    page = visit.page
    page.locator("details.account-menu summary").click()
    page.locator(f"details.account-menu a[href='{path}']").click()
    page.wait_for_url(f"**{path}")


@pytest.mark.parametrize(("lang", "viewport"), [("en", "phone"), ("sv", "desktop")])
def test_a_returning_shopper_can_read_every_page(store, open_visit, lang, viewport):
    user = store.checked_in_shopper(email=EMAIL, name="Bertil Berg", card="E2E-BERTIL-CARD")
    send_due_reminders(user_ids=[user.pk])
    visit = open_visit(lang, viewport)
    page = visit.page

    log_in(visit, user)
    assert visit.h1() == visit.t("Your purchase history")
    assert page.locator(".order-row").count() > 0
    visit.check("history")

    page.locator(".order-row a").first.click()
    page.wait_for_url(re.compile(r"/history/orders/\d+/$"))
    assert "Milk 1 l" in page.locator("main").inner_text()
    visit.check("order")

    nav(visit, "/habits/")
    assert visit.h1() == visit.t("Your habits")
    # The period switch swaps the summary in place and marks the new period.
    page.locator(".period-switch a[href='?period=4w']").click()
    page.locator(".period-switch a.current[href='?period=4w']").wait_for()
    assert int(page.locator(".stats .stat-value").nth(1).inner_text()) > 0
    visit.check("habits-4-weeks")

    nav(visit, "/list/")
    assert visit.h1() == visit.t("Shopping list")
    assert page.locator("#shopping-list li.item").count() > 0
    visit.check("list")

    nav(visit, "/pantry/")
    assert visit.h1() == visit.t("Pantry")
    assert page.locator("li.pantry-item").count() > 0
    visit.check("pantry")

    # The bell counts the reminder and leads to it.
    assert page.locator("a.pantry-bell .pantry-bell-count").inner_text() != "0"
    page.locator("a.pantry-bell").click()
    page.wait_for_url("**/pantry/notifications/")
    assert visit.h1() == visit.t("Notifications")
    assert page.locator("li.notification.is-unread").count() > 0
    visit.check("notifications")

    nav(visit, "/privacy/")
    assert visit.h1() == visit.t("Privacy and consent")
    on = page.locator(".purpose button.switch[aria-checked=true]")
    assert on.count() == 3
    visit.check("privacy")

    account_menu(visit, "/accounts/data/")
    assert visit.h1() == visit.t("Your data")
    visit.check("data")

    page.locator(".danger-zone a.button").click()
    page.wait_for_url("**/accounts/data/delete/")
    assert visit.h1() == visit.t("Delete your account")
    visit.check("erase-confirm")
    page.locator("main form a[href='/accounts/data/']").click()
    page.wait_for_url("**/accounts/data/")

    account_menu(visit, "/accounts/profile/")
    assert visit.h1() == visit.t("Profile")
    assert page.locator("#id_language").input_value() == lang
    visit.check("profile")

    visit.goto("/accounts/password/")
    assert visit.h1() == visit.t("Change your password")
    visit.check("password-change")

    visit.goto("/accounts/link/")
    assert visit.h1() == visit.t("Your store card is linked")
    assert "•••• CARD" in page.locator(".identifiers").inner_text()
    visit.check("link")

    page.locator("details.account-menu summary").click()
    page.locator("details.account-menu form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))
    assert visit.h1() == visit.t("Your receipts, working for you")
    assert page.locator("details.account-menu").count() == 0
    visit.check("logged-out")

    visit.goto("/accounts/login/")
    assert visit.h1() == visit.t("Welcome back")
    visit.check("login-again")
