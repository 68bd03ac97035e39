"""manage.py import_orders: a CSV file is one all-or-nothing batch, with an error report."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from insights.catalog.models import Product
from insights.purchases.models import Order, OrderLine

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,customer_kind,customer_value,channel,store_id,placed_at,currency,"
    "sku,product_name,quantity,unit_price,amount_paid,discount,coupon_discount\n"
)
STORE = "R1,loyalty_card,0012,store,12,2026-10-01T10:00:00+02:00,SEK"
GOOD = (
    HEADER
    + f"{STORE},MILK1,Milk 1 l,2,12.50,25.00,0,0\n"
    + f'{STORE},CHEESE,"Cheese, aged",0.5,100,45,5,0\n'
    + "R2,web,W9,web,,2026-10-02T08:00:00Z,SEK,MILK1,,1,12.50,12.50,,\n"
)
BAD = (
    HEADER
    + "R1,loyalty_card,0012,store,12,2026-10-01T10:00:00+02:00,SEK,MILK1,Milk,2,12.50,25.00,0,0\n"
    + "R2,loyalty_card,0012,store,12,2026-10-01 10:00,SEK,MILK1,Milk,0,12.50,x,0,0\n"
)


def write(tmp_path, text: str):
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: object) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_orders", *[str(a) for a in args], stdout=out, stderr=err, verbosity=0)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_csv_file(tmp_path):
    out, _ = run(write(tmp_path, GOOD), "--source", "pos")

    assert "Created 2 orders with 3 lines" in out
    order = Order.objects.get(source="pos", external_id="R1")
    assert order.customer.identifiers.get().value == "0012"
    assert Product.objects.get(sku="CHEESE").name == "Cheese, aged"
    assert OrderLine.objects.count() == 3


def test_a_second_import_of_the_same_file_counts_duplicates(tmp_path):
    path = write(tmp_path, GOOD)
    run(path)

    out, _ = run(path)

    assert "Created 0 orders" in out
    assert "2 orders were already stored" in out
    assert Order.objects.count() == 2


def test_a_dry_run_writes_nothing(tmp_path):
    out, _ = run(write(tmp_path, GOOD), "--dry-run")

    assert "Would create 2 orders with 3 lines" in out
    assert "Dry run: nothing was written." in out
    assert Order.objects.count() == 0
    assert Product.objects.count() == 0


def test_bad_rows_fail_the_whole_file_and_are_written_to_the_error_report(tmp_path):
    report = tmp_path / "errors.csv"

    with pytest.raises(CommandError) as failure:
        run(write(tmp_path, BAD), "--error-report", report)

    assert failure.value.returncode == 1
    assert Order.objects.count() == 0
    with open(report, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["row", "field", "reason"],
        ["3", "placed_at", "has no time zone offset (add Z or +01:00)"],
        ["3", "quantity", "must be greater than 0"],
        ["3", "amount_paid", "is not a number"],
    ]


def test_the_first_errors_are_printed(tmp_path):
    with pytest.raises(CommandError):
        out, err = StringIO(), StringIO()
        try:
            call_command(
                "import_orders", str(write(tmp_path, BAD)), stdout=out, stderr=err, verbosity=0
            )
        finally:
            printed = err.getvalue()

    assert "3 row errors; nothing was written." in printed
    assert "row 3: quantity: must be greater than 0" in printed


def test_a_missing_column_is_reported(tmp_path):
    text = GOOD.replace("currency,", "").replace(",SEK,", ",")

    with pytest.raises(CommandError):
        out, err = StringIO(), StringIO()
        try:
            call_command(
                "import_orders", str(write(tmp_path, text)), stdout=out, stderr=err, verbosity=0
            )
        finally:
            printed = err.getvalue()

    assert "row header: currency: column is missing" in printed
