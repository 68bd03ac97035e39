"""The product admin: search, filters, the review queue and the bulk actions."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from insights.catalog.models import Product

CHANGELIST = reverse("admin:catalog_product_changelist")


def listed(response) -> set[str]:
    return {p.sku for p in response.context["cl"].result_list}


def test_search_finds_products_by_sku_name_and_brand(superuser_client, products):
    assert listed(superuser_client.get(CHANGELIST, {"q": "2001"})) == {"2001"}
    assert listed(superuser_client.get(CHANGELIST, {"q": "skimmed"})) == {"1002"}
    assert listed(superuser_client.get(CHANGELIST, {"q": "pågen"})) == {"2001"}


def test_filters_narrow_by_department_perishable_and_review(superuser_client, products, dairy):
    by_department = superuser_client.get(
        CHANGELIST, {"category__department__id__exact": dairy.department_id}
    )
    assert listed(by_department) == {"1001", "1002"}
    assert listed(superuser_client.get(CHANGELIST, {"perishable__exact": "1"})) == {"2001"}
    assert listed(superuser_client.get(CHANGELIST, {"needs_review": "yes"})) == {"9999"}
    assert listed(superuser_client.get(CHANGELIST, {"shelf_life": "none"})) == {"9999"}


def test_changelist_tells_admins_how_many_products_need_review(superuser_client, products):
    response = superuser_client.get(CHANGELIST)
    messages = [str(m) for m in response.context["messages"]]
    assert any("1 product arrived in an order and needs review" in m for m in messages)


def test_changelist_runs_a_fixed_number_of_queries(
    superuser_client, products, dairy, django_assert_max_num_queries
):
    superuser_client.get(CHANGELIST)  # warm caches (content types, session)
    with django_assert_max_num_queries(12):
        superuser_client.get(CHANGELIST)
    for n in range(20):
        Product.objects.create(sku=f"X{n}", name=f"Extra {n}", category=dairy)
    with django_assert_max_num_queries(12):
        superuser_client.get(CHANGELIST)


def test_unreviewed_products_have_their_own_admin_entry(superuser_client, products):
    response = superuser_client.get(reverse("admin:catalog_unreviewedproduct_changelist"))
    assert listed(response) == {"9999"}
    assert b"Products to review" in superuser_client.get(reverse("admin:index")).content


def _action(client, action, products, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in products], **extra}
    return client.post(CHANGELIST, data)


def test_set_shelf_life_asks_for_days_before_changing_anything(superuser_client, products):
    response = _action(superuser_client, "set_shelf_life", [products["milk"], products["bread"]])
    assert response.status_code == 200
    assert b"Set the shelf life of 2 selected products" in response.content
    assert Product.objects.filter(shelf_life_days__isnull=False).count() == 0


def test_set_shelf_life_applies_to_the_selected_products_only(superuser_client, products):
    response = _action(
        superuser_client,
        "set_shelf_life",
        [products["milk"], products["bread"]],
        apply="1",
        kind="best_before",
        days="8",
    )
    assert response.status_code == 302
    assert dict(Product.objects.values_list("sku", "shelf_life_days")) == {
        "1001": 8,
        "1002": None,
        "2001": 8,
        "9999": None,
    }


@pytest.mark.parametrize("days", ["0", "-3", "abc", "99999"])
def test_set_shelf_life_rejects_bad_days_and_writes_nothing(superuser_client, products, days):
    response = _action(
        superuser_client, "set_shelf_life", [products["milk"]], apply="1", kind="opened", days=days
    )
    assert response.status_code == 200
    assert response.context["form"].errors["days"]
    assert not Product.objects.filter(shelf_life_opened_days__isnull=False).exists()


def test_an_empty_days_field_clears_back_to_the_category_default(superuser_client, products):
    Product.objects.update(shelf_life_days=3)
    _action(
        superuser_client,
        "set_shelf_life",
        [products["milk"]],
        apply="1",
        kind="best_before",
        days="",
    )
    products["milk"].refresh_from_db()
    assert products["milk"].shelf_life_days is None
    assert products["milk"].effective_shelf_life_days == 10


def test_mark_reviewed_and_deactivate_actions(superuser_client, products):
    _action(superuser_client, "mark_reviewed", [products["mystery"]])
    _action(superuser_client, "deactivate", [products["milk"], products["skimmed"]])
    assert not Product.objects.filter(reviewed=False).exists()
    assert set(Product.objects.filter(active=False).values_list("sku", flat=True)) == {
        "1001",
        "1002",
    }
    _action(superuser_client, "activate", [products["milk"]])
    assert set(Product.objects.filter(active=False).values_list("sku", flat=True)) == {"1002"}


def test_shelf_life_is_editable_in_the_list(superuser_client, products):
    response = superuser_client.get(CHANGELIST)
    assert 'name="form-0-shelf_life_days"' in response.content.decode()
