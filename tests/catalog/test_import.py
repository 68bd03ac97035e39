"""Catalog file import: a preview first, nothing written until confirmed, bad rows reported."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from insights.catalog.admin import ProductAdmin
from insights.catalog.models import Product
from insights.catalog.resources import ProductResource

IMPORT = reverse("admin:catalog_product_import")
CONFIRM = reverse("admin:catalog_product_process_import")


def csv_format() -> str:
    from django.contrib import admin

    formats = ProductAdmin(Product, admin.site).get_import_formats()
    return str(next(i for i, f in enumerate(formats) if f().get_title() == "csv"))


def upload(client, text: str):
    file = SimpleUploadedFile("catalog.csv", text.encode(), content_type="text/csv")
    return client.post(IMPORT, {"import_file": file, "format": csv_format(), "resource": "0"})


GOOD = (
    "sku,name,brand,package_size,unit,category,perishable,shelf_life_days,active\n"
    "1001,Milk 1.5% 1 l,Arla,1,l,DAIRY / MILK,1,9,1\n"
    "3001,Sourdough,Bageriet,0.5,kg,PASTRY / BREAD/ROLLS,1,,1\n"
)


def test_import_previews_changes_and_writes_nothing_until_confirmed(superuser_client, products):
    response = upload(superuser_client, GOOD)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [row.import_type for row in result.valid_rows()] == ["update", "new"]
    assert "confirm_form" in response.context
    assert not Product.objects.filter(sku="3001").exists()
    assert Product.objects.get(sku="1001").name == "Milk 1 l"

    confirm = response.context["confirm_form"].initial
    response = superuser_client.post(CONFIRM, confirm)
    assert response.status_code == 302
    sourdough = Product.objects.select_related("category__department").get(sku="3001")
    assert (sourdough.category.department.name, sourdough.category.name) == (
        "PASTRY",
        "BREAD/ROLLS",
    )
    assert sourdough.reviewed
    assert Product.objects.get(sku="1001").shelf_life_days == 9


def test_bad_rows_are_reported_one_by_one_and_nothing_is_offered_to_confirm(
    superuser_client, products
):
    text = (
        "sku,name,brand,package_size,unit,category,perishable,shelf_life_days,active\n"
        "3001,Sourdough,,0.5,kg,PASTRY / BREAD/ROLLS,1,,1\n"
        "3002,Ghost,,1,kg,PASTRY / CAKES,1,,1\n"
        "3003,Odd unit,,1,bushel,DAIRY / MILK,1,,1\n"
        "3004,No category format,,1,kg,MILK,1,,1\n"
    )
    response = upload(superuser_client, text)
    result = response.context["result"]
    assert "confirm_form" not in response.context
    messages = {row.number: str(row.error_dict) for row in result.invalid_rows}
    assert 'Unknown category "PASTRY / CAKES"' in messages[2]
    assert "bushel" in messages[3]
    assert "must be written as" in messages[4]
    assert 1 not in messages
    assert not Product.objects.filter(sku__startswith="300").exists()


def test_export_writes_categories_as_department_slash_category(products):
    dataset = ProductResource().export()
    rows = {row["sku"]: row for row in dataset.dict}
    assert rows["2001"]["category"] == "PASTRY / BREAD/ROLLS"
    assert rows["9999"]["category"] == ""
