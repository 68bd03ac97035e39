"""Fixtures for the catalog admin tests: a small catalog and the two kinds of admin."""

import pytest
from django.contrib.auth.models import Group

from insights.catalog.roles import CATALOG_GROUP, ensure_catalog_group
from tests.factories import CategoryFactory, DepartmentFactory, ProductFactory, UserFactory


@pytest.fixture
def dairy(db):
    department = DepartmentFactory(name="DAIRY")
    return CategoryFactory(department=department, name="MILK", default_shelf_life_days=10)


@pytest.fixture
def bakery(db):
    department = DepartmentFactory(name="PASTRY")
    return CategoryFactory(department=department, name="BREAD/ROLLS", default_shelf_life_days=5)


@pytest.fixture
def products(dairy, bakery):
    return {
        "milk": ProductFactory(sku="1001", name="Milk 1 l", brand="Arla", category=dairy),
        "skimmed": ProductFactory(sku="1002", name="Skimmed milk", brand="Arla", category=dairy),
        "bread": ProductFactory(
            sku="2001", name="Rye bread", brand="Pågen", category=bakery, perishable=True
        ),
        "mystery": ProductFactory(sku="9999", name="9999", category=None, reviewed=False),
    }


@pytest.fixture
def superuser_client(client, db):
    admin = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def catalog_admin(db):
    # pytest-django's flush between tests can leave the group out; build it as migrate does.
    ensure_catalog_group()
    user = UserFactory(email="cat@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=CATALOG_GROUP))
    return user


@pytest.fixture
def catalog_client(client, catalog_admin):
    client.force_login(catalog_admin)
    return client
