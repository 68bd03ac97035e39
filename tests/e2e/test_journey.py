"""A new shopper's whole journey in a real browser, from check-in to erasure.

Sign up, check in with three consents, link the store's history with a one-time code,
read the history, habits, shopping list (tick, snooze, add) and pantry (used up, thrown
away), withdraw the list's consent and see it stop, download the data and erase the
account. Once in English on a desktop, once in Swedish (chosen with the header's
switcher) on a phone. `test_walk.py` covers the other two combinations more lightly.
"""

import re
import zipfile

import pytest
from django.utils.translation import override as language_override

from accounts.models import User
from accounts.purposes import PREDICTIONS, PURPOSES
from insights.forecasts.models import Forecast, ListItem
from insights.habits.models import HabitSnapshot
from insights.pantry.models import PantryItem
from insights.purchases.models import Order
from insights.purchases.templatetags.kvitto import money_affixes
from tests.e2e.world import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EMAIL = "alice.e2e@example.com"
NAME = "Alice Andersson"


def sign_up_and_check_in(visit, code: str) -> None:
    page = visit.page
    visit.goto("/")
    if visit.target != visit.lang:
        visit.switch_language(visit.target)
    assert visit.h1() == visit.t("Your receipts, working for you")
    visit.check("home")

    page.locator(".hero-actions a").first.click()
    page.wait_for_url("**/accounts/signup/")
    assert visit.h1() == visit.t("Create your login")
    page.fill("#id_email", EMAIL)
    page.fill("#id_name", NAME)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.select_option("#id_language", visit.lang)
    visit.check("signup")
    page.locator("main form button[type=submit]").click()

    page.wait_for_url("**/accounts/check-in/")
    assert visit.h1() == visit.t("Welcome, %(name)s. What may Kvitto do for you?", name="Alice")
    # Nothing is granted by default: every box starts unticked.
    boxes = page.locator(".check-in-form input[type=checkbox]")
    assert boxes.count() == 5
    assert not any(boxes.nth(i).is_checked() for i in range(boxes.count()))
    for purpose in ("insights", "predictions", "pantry"):
        page.locator(f"label[for=id_{purpose}]").click()
        assert page.locator(f"#id_{purpose}").is_checked()
    visit.check("check-in")
    page.locator(".check-in-actions button").click()

    page.wait_for_url("**/accounts/link/?welcome=1")
    assert visit.t("Welcome to Kvitto. Your choices are saved; change them any time.") in (
        page.locator(".messages").inner_text()
    )
    page.fill("#id_code", code)
    visit.check("link")
    page.locator(".code-form button[type=submit]").click()
    page.wait_for_url("**/history/")


def see_history(visit, order_ids: list[str]) -> None:
    page = visit.page
    assert visit.h1() == visit.t("Your purchase history")
    assert (
        visit.t("Your store history is linked. New receipts may take a minute to appear.")
        in page.locator(".messages").inner_text()
    )
    rows = page.locator(".order-row")
    assert rows.count() == len(order_ids)
    visit.check("history")
    rows.first.click()
    page.wait_for_url(re.compile(r"/history/orders/\d+/$"))
    lines = page.locator("main").inner_text()
    for product in ("Milk 1 l", "Rye bread", "Bananas 1 kg", "Yoghurt 1 kg", "Cheddar 500 g"):
        assert product in lines
    visit.check("order")


# Shown chart id -> how many of its bars or non-empty heat-map cells lie in its visible part.
VISIBLE_DATA_MARKS = """() => Object.fromEntries([...document.querySelectorAll('.chart-wrap svg')]
  .filter(svg => svg.getBoundingClientRect().width > 0)
  .map(svg => {
    const box = svg.closest('.chart-wrap').getBoundingClientRect();
    const marks = [...svg.querySelectorAll('rect.bar, rect.cell:not(.h0)')].filter(mark => {
      const r = mark.getBoundingClientRect();
      return r.width > 0 && r.left >= box.left - 1 && r.right <= box.right + 1;
    });
    return [svg.id, marks.length];
  }))"""


def see_habits(visit) -> None:
    page = visit.page
    page.locator(".main-nav a[href='/habits/']").click()
    page.wait_for_url("**/habits/")
    assert visit.h1() == visit.t("Your habits")
    stats = page.locator(".stats .stat-value")
    assert stats.count() == 4
    trips = int(stats.nth(1).inner_text())
    assert trips > 0
    # Money reads as on the history page: "SEK 1,234.50", or "1 234,50 kr" in Swedish.
    spent = stats.nth(0).inner_text()
    with language_override(visit.lang):
        prefix, suffix = money_affixes()
    assert spent.startswith(prefix) and spent.endswith(suffix), spent
    # Each chart shows some of its data where it opens, without scrolling sideways: on a
    # phone the wide ones scroll, and opening on an empty stretch reads as an empty chart.
    shown = page.evaluate(VISIBLE_DATA_MARKS)
    assert len(shown) == 4, shown
    assert all(n > 0 for n in shown.values()), shown
    assert "Milk 1 l" in page.locator(".top-list").first.inner_text()
    visit.check("habits")


def item(page, name: str):
    return page.locator("#shopping-list li.item").filter(has_text=name)


def work_the_list(visit) -> None:
    page = visit.page
    page.locator(".main-nav a[href='/list/']").click()
    page.wait_for_url("**/list/")
    assert visit.h1() == visit.t("Shopping list")
    assert item(page, "Milk 1 l").count() == 1
    assert item(page, "Rye bread").count() == 1
    visit.check("list")

    # Tick: the milk stays on the list, ticked, and the count says so.
    item(page, "Milk 1 l").locator("button.tick").click()
    expect_ticked = item(page, "Milk 1 l").locator("button.tick.is-ticked")
    expect_ticked.wait_for()
    assert "1" in page.locator(".list-status").inner_text()

    # Snooze the bread for a week: it leaves the list.
    bread = item(page, "Rye bread")
    bread.locator("details.item-more summary").click()
    bread.locator("select[name=days]").select_option("7")
    bread.locator("button[value=snooze]").click()
    item(page, "Rye bread").wait_for(state="detached")

    # Add something of one's own, as free text.
    page.fill("#free-text", "Napkins for the party")
    page.locator(".free-text button[type=submit]").click()
    item(page, "Napkins for the party").wait_for()
    # The box is empty again, so a second click cannot add the same text twice.
    assert page.input_value("#free-text") == ""
    visit.check("list-after-tick-snooze-add")

    # The decisions survive a reload: they were stored, not just swapped in.
    page.reload()
    assert item(page, "Milk 1 l").locator("button.tick.is-ticked").count() == 1
    assert item(page, "Rye bread").count() == 0
    assert item(page, "Napkins for the party").count() == 1


# An item the shopper just finished, in its section; the folded "Bought again" section lists
# earlier packs of the same products as done too.
DONE = ".pantry-section:not(#pantry-replaced) li.pantry-item.is-done"


def pantry_item(page, name: str):
    return page.locator("li.pantry-item").filter(has_text=name)


def work_the_pantry(visit) -> None:
    page = visit.page
    page.locator(".main-nav a[href='/pantry/']").click()
    page.wait_for_url("**/pantry/")
    assert visit.h1() == visit.t("Pantry")
    for name in ("Milk 1 l", "Rye bread", "Bananas 1 kg"):
        assert pantry_item(page, name).count() >= 1, name
    visit.check("pantry")

    pantry_item(page, "Milk 1 l").first.locator("button", has_text=visit.t("Used up")).click()
    done = page.locator(DONE, has_text="Milk 1 l")
    done.wait_for()
    assert (
        visit.t("%(name)s: used up.", name="Milk 1 l") in page.locator(".pantry-lists").inner_text()
    )

    bananas = pantry_item(page, "Bananas 1 kg").first
    bananas.locator("details.pi-more summary").click()
    bananas.locator("button[name=share][value=half]").click()
    done = page.locator(DONE, has_text="Bananas 1 kg")
    done.wait_for()
    # Half a pack of bananas (24.90), written as every page writes money.
    wasted = visit.money("12.45")
    thrown = visit.t(
        "%(name)s: thrown away (%(amount)s of waste).", name="Bananas 1 kg", amount=wasted
    )
    assert thrown in done.inner_text()
    visit.check("pantry-after-used-thrown")

    # The money card counts it after a reload.
    page.reload()
    assert wasted in page.locator("#pantry-waste .waste-total").inner_text()
    visit.check("pantry-waste")


def withdraw_the_list(visit, user: User) -> None:
    page = visit.page
    page.locator(".main-nav a[href='/privacy/']").click()
    page.wait_for_url("**/privacy/")
    assert visit.h1() == visit.t("Privacy and consent")
    row = page.locator("#purpose-predictions")
    switch = row.locator("button.switch")
    assert switch.get_attribute("aria-checked") == "true"
    switch.click()
    page.locator("#purpose-predictions button.switch[aria-checked=false]").wait_for()
    notice = page.locator("#purpose-predictions .purpose-notice").inner_text()
    assert notice == visit.t(
        "Predicted shopping list switched off; your forecasts and suggestions were deleted."
    )
    visit.check("privacy-withdrawn")
    assert not Forecast.objects.filter(user=user).exists()
    assert not ListItem.objects.filter(shopping_list__user=user).exclude(kind="own").exists()

    # The list now offers to switch it on instead of showing anything.
    page.locator(".main-nav a[href='/list/']").click()
    page.wait_for_url("**/list/")
    title = visit.text(PURPOSES[PREDICTIONS].title)
    assert visit.h1() == title
    button = page.locator("#feature-gate button[type=submit]")
    assert button.inner_text().strip() == visit.t("Switch on %(title)s", title=title)
    assert page.locator("#shopping-list").count() == 0
    visit.check("list-gate")


def export_and_erase(visit, user: User, order_ids: list[str], tmp_path) -> None:
    page = visit.page
    page.locator("details.account-menu summary").click()
    page.locator("details.account-menu a[href='/accounts/data/']").click()
    page.wait_for_url("**/accounts/data/")
    assert visit.h1() == visit.t("Your data")
    page.locator("#export-status button[type=submit]").click()
    download_link = page.locator("#export-status a.button")
    download_link.wait_for()
    visit.check("data-export-ready")
    with page.expect_download() as info:
        download_link.click()
    target = tmp_path / "export.zip"
    info.value.save_as(target)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        orders_csv = next(n for n in names if n.endswith("orders.csv"))
        exported = archive.read(orders_csv).decode("utf-8")
    for external_id in order_ids:
        assert external_id in exported

    page.locator(".danger-zone a.button").click()
    page.wait_for_url("**/accounts/data/delete/")
    assert visit.h1() == visit.t("Delete your account")
    # A wrong password deletes nothing and says why.
    page.fill("#id_password", "not-my-password")
    page.locator("main form button[type=submit]").click()
    page.locator(".errorlist, .form-alert").first.wait_for()
    assert User.objects.filter(pk=user.pk).exists()
    visit.check("erase-wrong-password")
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/accounts/data/deleted/")
    assert visit.h1() == visit.t("Your account is deleted")
    visit.check("erased")
    assert not User.objects.filter(email=EMAIL).exists()
    assert not Order.objects.filter(external_id__in=order_ids).exists()

    # The erased login is refused by the real login form.
    visit.goto("/accounts/login/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    refusal = page.locator(".form-alert").inner_text()
    assert refusal == visit.t(
        "That e-mail address and password do not match. Check the password, or reset it."
    )
    assert page.url.endswith("/accounts/login/")
    assert page.locator("details.account-menu").count() == 0
    visit.check("login-refused")


@pytest.mark.parametrize(("lang", "viewport"), [("en", "desktop"), ("sv", "phone")])
def test_a_new_shopper_goes_from_check_in_to_erasure(store, open_visit, tmp_path, lang, viewport):
    customer, order_ids = store.unlinked_history("E2E-ALICE-CARD")
    code = store.link_code(customer)
    visit = open_visit(lang, viewport)

    sign_up_and_check_in(visit, code)
    user = User.objects.get(email=EMAIL)
    assert user.language == lang
    # Linking ran the refresh: every consented feature has its derived rows.
    assert HabitSnapshot.objects.filter(user=user).exists()
    assert Forecast.objects.filter(user=user).exists()
    assert PantryItem.objects.filter(user=user).exists()

    see_history(visit, order_ids)
    see_habits(visit)
    work_the_list(visit)
    work_the_pantry(visit)
    withdraw_the_list(visit, user)
    export_and_erase(visit, user, order_ids, tmp_path)
