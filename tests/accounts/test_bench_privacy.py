"""manage.py bench_privacy: exports and erases the heaviest shopper, checks, and rolls back."""

from io import StringIO

from django.core.management import call_command

from accounts.models import DataExport, ErasureRecord, User
from tests.accounts.data_rights_helpers import fill_everything


def test_the_bench_checks_the_heaviest_shopper_and_leaves_the_database_as_it_was(alice, charlie):
    fill_everything(alice, orders=2, lines=2, tag="a")
    fill_everything(charlie, orders=4, lines=3, tag="c")
    exports = DataExport.objects.count()
    out = StringIO()

    call_command("bench_privacy", stdout=out)

    text = out.getvalue()
    assert f"login {charlie.pk}," in text
    assert "12 order lines" in text
    assert "row counts ZIP vs database: equal for every file" in text
    assert "rows left after erasure: 0" in text
    assert User.objects.filter(pk=charlie.pk).exists()
    assert not ErasureRecord.objects.exists()
    assert DataExport.objects.count() == exports
