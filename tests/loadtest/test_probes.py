"""The bench's look at pages: what the simulated shoppers read off them, and each page's cost."""

from django.urls import resolve, reverse
from django.utils import timezone

from insights.habits import services as habits
from insights.loadtest import probes, scrape
from insights.purchases.models import Order
from tests.loadtest.factories import demo_shopper


def test_the_login_form_carries_the_token_a_simulated_shopper_posts_back(client, db):
    page = client.get(reverse("accounts:login")).content.decode()

    assert scrape.CSRF_INPUT.search(page)


def test_the_history_page_shows_the_order_links_categories_and_next_page_shoppers_follow(
    client, db
):
    alice = demo_shopper(1, orders=30)
    client.force_login(alice)

    page = client.get(reverse("purchases:history")).content.decode()

    newest = Order.objects.filter(customer__user=alice).order_by("-placed_at")[:25]
    assert scrape.ORDER_LINK.findall(page) == [f"/history/orders/{o.pk}/" for o in newest]
    category = newest[0].lines.first().product.category_id
    assert str(category) in scrape.CATEGORY_OPTION.findall(page)
    assert scrape.NEXT_PAGE in page


def test_the_habits_page_links_to_filtered_history_that_the_shoppers_follow(client, db):
    alice = demo_shopper(1, orders=12)
    habits.refresh_habits(user=alice, as_of=timezone.now())
    client.force_login(alice)

    page = client.get(reverse("habits:index"), {"period": "3m"}).content.decode()

    links = scrape.HISTORY_LINK.findall(page)
    assert links
    for link in links:
        path, _, query = link.partition("?")
        assert resolve(path).url_name == "history"
        assert query


def test_each_page_is_measured_with_its_queries_for_one_shopper(db):
    alice = demo_shopper(1, orders=3)

    costs = probes.page_costs(alice, runs=1)

    assert [c.name for c in costs] == [name for name, _, _ in probes.PAGES]
    newest = Order.objects.filter(customer__user=alice).latest("placed_at")
    order_page = next(c for c in costs if c.name == "history/orders/[id]")
    assert order_page.url == f"/history/orders/{newest.pk}/"
    for cost in costs:
        assert cost.queries >= 3  # at least the session, the login and the page's own
        assert cost.wall_ms > 0
        assert cost.kib >= 0


def test_a_shopper_without_orders_is_measured_without_an_order_page(db):
    alice = demo_shopper(1, orders=0)

    names = [name for name, _, _ in probes.page_urls(alice)]

    assert "history/orders/[id]" not in names
    assert "history" in names


def test_the_slowest_page_is_profiled_to_text_and_html(db, tmp_path):
    alice = demo_shopper(1, orders=3)

    text = probes.profile_page(alice, "/pantry/", htmx=False, runs=2, out=tmp_path / "profile")

    assert "pantry" in text
    assert (tmp_path / "profile.txt").read_text() == text
    assert "<html" in (tmp_path / "profile.html").read_text().lower()
