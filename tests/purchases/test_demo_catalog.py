"""The demo loader's catalog: readable names, sizes, shelf-life defaults, aisles."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from insights.catalog.models import Category, Department, Product
from insights.purchases.demo import (
    aisle_order,
    load_catalog,
    parse_size,
    product_name,
    shelf_life_for,
    tidy_title,
)


@pytest.mark.parametrize(
    ("raw", "amount", "unit", "label"),
    [
        ("22 LB", Decimal("22"), "lb", "22 lb"),
        ("12 OZ", Decimal("12"), "oz", "12 oz"),
        (".29 OZ", Decimal("0.29"), "oz", "0.29 oz"),
        ("EX   16 OZ", Decimal("16"), "oz", "16 oz"),
        ("64 FL OZ", Decimal("64"), "floz", "64 fl oz"),
        ("1/2 GAL", Decimal("0.5"), "gal", "1/2 gal"),
        ("300 CT(1)", Decimal("300"), "ct", "300 ct"),
        ("2 QT", Decimal("1.892"), "l", "2 qt"),
        ("1.5 L", Decimal("1.5"), "l", "1.5 l"),
        ("1 DZ", Decimal("12"), "pc", "1 dozen"),
    ],
)
def test_sizes_are_parsed_into_amount_unit_and_a_label(raw, amount, unit, label):
    size = parse_size(raw)
    assert (size.amount, size.unit, size.label) == (amount, unit, label)


@pytest.mark.parametrize(
    "raw",
    [
        np.nan,
        None,
        "",
        "KIT/EACH",
        "6/12 OZ",
        "65 MM",
        "LARGE",
        "0 OZ",
        "985739  PK",
        "52300000 OZ",
    ],
)
def test_sizes_that_are_not_understood_are_left_empty(raw):
    size = parse_size(raw)
    assert (size.amount, size.unit, size.label) == (None, "", "")


def test_names_read_well():
    assert (
        product_name("BREAD:ITALIAN/FRENCH", "BREAD", "Private", parse_size("22 LB"))
        == "Bread: Italian/French (Private label), 22 lb"
    )
    assert product_name("APPLE SAUCE", "FRUIT", "National", parse_size("50 OZ")) == (
        "Apple Sauce, 50 oz"
    )
    assert product_name(np.nan, "FRZN ICE", "National", parse_size(np.nan)) == "Frzn Ice"
    assert product_name(np.nan, np.nan, np.nan, parse_size(np.nan)) == "Unnamed product"


def test_titles_keep_small_words_and_apostrophes_lower_case():
    assert (
        tidy_title("CHILDREN'S VITAMINS W/ IRON AND ZINC") == "Children's Vitamins w/ Iron and Zinc"
    )
    assert tidy_title("  SW GDS:SW ROLLS/DAN ") == "Sw Gds: Sw Rolls/Dan"


@pytest.mark.parametrize(
    ("department", "category", "days", "perishable"),
    [
        ("GROCERY", "FLUID MILK PRODUCTS", 10, True),
        ("GROCERY", "YOGURT", 14, True),
        ("MEAT", "BEEF", 3, True),
        ("SEAFOOD", "SEAFOOD - MISC", 2, True),
        ("PRODUCE", "TROPICAL FRUIT", 7, True),
        ("PRODUCE", "BERRIES", 4, True),
        ("PASTRY", "BREAD", 5, True),
        ("DELI", "SALADS/DIPS", 5, True),
        ("GROCERY", "FRZN PIZZA", 180, True),
        ("GROCERY", "SPICES & EXTRACTS", 730, False),
        ("GROCERY", "COLD CEREAL", 365, False),
        ("GROCERY", "LAUNDRY DETERGENTS", None, False),
        ("DRUG GM", "VITAMINS", None, False),
        ("FUEL", "GASOLINE-REG UNLEADED", None, False),
    ],
)
def test_shelf_life_defaults_follow_department_and_category(department, category, days, perishable):
    shelf = shelf_life_for(department, category)
    assert (shelf.days, shelf.perishable) == (days, perishable)


def test_opened_and_frozen_defaults_are_set_where_they_differ():
    milk = shelf_life_for("GROCERY", "FLUID MILK PRODUCTS")
    assert (milk.opened, milk.frozen) == (5, 90)
    assert shelf_life_for("MEAT", "PORK").frozen == 120


def test_aisles_run_from_fresh_food_to_non_food():
    order = ["PRODUCE", "PASTRY", "MEAT", "GROCERY", "DRUG GM", "FUEL"]
    assert [aisle_order(d) for d in order] == sorted(aisle_order(d) for d in order)


PRODUCTS = pd.DataFrame(
    {
        "product_id": [1, 2, 3, 4],
        "manufacturer_id": [1, 1, 2, 2],
        "department": ["GROCERY", "GROCERY", "FUEL", "PRODUCE"],
        "brand": ["National", "Private", "National", "Private"],
        "product_category": ["FLUID MILK PRODUCTS", np.nan, "GASOLINE", "APPLES"],
        "product_type": ["FLUID MILK WHITE ONLY", "MISC", "GASOLINE-REG", "APPLES GALA (BULK&BAG)"],
        "package_size": ["1 GA", np.nan, np.nan, "3 LB"],
    }
)


def test_catalog_is_loaded_once_with_never_listed_departments(db):
    assert load_catalog(PRODUCTS) == (3, 4, 4)
    assert Department.objects.get(name="Fuel").never_list
    assert not Department.objects.get(name="Produce").never_list
    assert Category.objects.filter(name="Fluid Milk Products").exists()
    other = Category.objects.get(department__name="Grocery", name="Other")
    assert other.default_shelf_life_days == 365
    milk = Product.objects.select_related("category").get(sku="1")
    assert (milk.name, milk.unit, milk.package_size) == (
        "Fluid Milk White Only, 1 gal",
        "gal",
        Decimal("1.000"),
    )
    assert milk.perishable and milk.reviewed
    assert milk.category.default_shelf_life_days == 10
    assert not Product.objects.get(sku="3").perishable
    assert load_catalog(PRODUCTS) == (0, 0, 0)
