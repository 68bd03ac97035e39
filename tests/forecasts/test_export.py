"""export_predictions: only orders before --as-of, one row per (customer, rank), store ids."""

import csv
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
from tests.factories import CustomerFactory, CustomerIdentifierFactory
from tests.forecasts.conftest import NOW, grant, shop, weekly_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores(alice, charlie, catalog):
    CustomerIdentifierFactory(customer=alice.customer, kind="loyalty_card", value="CARD-A")
    CustomerIdentifierFactory(customer=alice.customer, kind="app", value="APP-A")
    CustomerIdentifierFactory(customer=charlie.customer, kind="web", value="WEB-C")
    weekly_history(alice.customer, catalog)
    weekly_history(charlie.customer, catalog)
    grant(alice, PREDICTIONS, MODEL_IMPROVEMENT)
    unlinked = CustomerFactory(user=None)
    CustomerIdentifierFactory(customer=unlinked, kind="loyalty_card", value="CARD-U")
    weekly_history(unlinked, catalog, weeks=4)
    # Bought only after the cutoff: must not leak into predictions as of the cutoff.
    shop(alice.customer, NOW - timedelta(days=2), [catalog.butter])
    return catalog


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_it_uses_only_orders_before_as_of(stores, tmp_path):
    out = tmp_path / "p.csv"
    call_command(
        "export_predictions", "--as-of", (NOW - timedelta(days=5)).isoformat(), "--out", str(out)
    )
    rows = _read(out)
    assert rows, "expected predictions for Alice"
    assert "BUTTER" not in {r["sku"] for r in rows}
    assert {r["sku"] for r in rows} == {"MILK", "BREAD", "COFFEE"}


def test_a_later_cutoff_sees_the_later_order(stores, tmp_path):
    out = tmp_path / "p.csv"
    call_command("export_predictions", "--as-of", NOW.isoformat(), "--out", str(out))
    assert "BUTTER" in {r["sku"] for r in _read(out)}


def test_rows_carry_the_store_identifier_rank_and_columns(stores, tmp_path):
    out = tmp_path / "p.csv"
    call_command("export_predictions", "--as-of", "2026-11-15", "--out", str(out), "--top", "2")
    rows = _read(out)
    assert list(rows[0]) == [
        "source",
        "external_id",
        "rank",
        "sku",
        "probability",
        "expected_date",
        "prediction_source",
    ]
    # Alice only: Charlie did not grant predictions, the unlinked customer is left out.
    assert {(r["source"], r["external_id"]) for r in rows} == {("loyalty_card", "CARD-A")}
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert 0 <= float(rows[0]["probability"]) <= 1


def test_unlinked_customers_only_when_asked(stores, tmp_path):
    out = tmp_path / "p.csv"
    call_command(
        "export_predictions", "--as-of", "2026-11-15", "--out", str(out), "--include-unlinked"
    )
    ids = {(r["source"], r["external_id"]) for r in _read(out)}
    assert ids == {("loyalty_card", "CARD-A"), ("loyalty_card", "CARD-U")}


def test_a_bad_date_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="not an ISO date"):
        call_command("export_predictions", "--as-of", "yesterday", "--out", str(tmp_path / "x.csv"))
