"""The "Catalog admins" group may edit the catalog and open nothing else in the admin."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from insights.catalog.models import Product
from insights.catalog.roles import CATALOG_GROUP


def test_the_group_holds_catalog_permissions_only(catalog_admin):
    group = Group.objects.get(name=CATALOG_GROUP)
    labels = set(group.permissions.values_list("content_type__app_label", flat=True))
    assert labels == {"catalog"}
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"change_product", "add_product", "view_product", "change_category"} <= codenames
    assert "delete_product" not in codenames


def test_migrate_repairs_the_group_to_exactly_its_permissions(db):
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    group = Group.objects.get(name=CATALOG_GROUP)  # made by migration 0003
    group.permissions.remove(Permission.objects.get(codename="change_product"))
    group.permissions.add(Permission.objects.get(codename="change_user"))
    call_command("migrate", verbosity=0)  # post_migrate runs even with nothing to apply
    group = Group.objects.get(name=CATALOG_GROUP)
    assert not group.permissions.filter(codename="change_user").exists()
    assert group.permissions.filter(codename="change_product").exists()


def test_catalog_admin_can_open_and_edit_a_product(catalog_client, products):
    milk = products["milk"]
    url = reverse("admin:catalog_product_change", args=[milk.pk])
    assert catalog_client.get(reverse("admin:catalog_product_changelist")).status_code == 200
    page = catalog_client.get(url)
    assert page.status_code == 200
    data = {
        **{k: v for k, v in page.context["adminform"].form.initial.items() if v is not None},
        "name": "Whole milk 1 l",
        "category": milk.category_id,
        "shelf_life_days": "7",
    }
    data.pop("created_at", None)
    response = catalog_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    milk.refresh_from_db()
    assert (milk.name, milk.shelf_life_days) == ("Whole milk 1 l", 7)


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:accounts_user_changelist",
        "admin:accounts_customer_changelist",
        "admin:accounts_consentevent_changelist",
        "admin:auth_group_changelist",
        "admin:api_integrationclient_changelist",
    ],
)
def test_catalog_admin_is_refused_everything_else(catalog_client, url_name):
    assert catalog_client.get(reverse(url_name)).status_code == 403


def test_viewing_alone_does_not_allow_importing(client, db, products):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(viewer)
    assert client.get(reverse("admin:catalog_product_changelist")).status_code == 200
    assert client.get(reverse("admin:catalog_product_import")).status_code == 403
    assert Product.objects.count() == 4
