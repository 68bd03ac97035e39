"""Export and erase the heaviest shopper (most order lines): wall time, ZIP size, row checks.

The erasure runs in a transaction that is rolled back afterwards (unless --commit), so the
benchmark can be repeated on the same demo database; the export's file and row are removed.
"""

import time

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count
from django.urls import reverse

from accounts import data_rights
from accounts.models import DataExport, ErasureRecord, User


class _Rollback(Exception):
    pass


def heaviest_user() -> tuple[User, int]:
    """The login whose customer has the most order lines (looked up by name: accounts does
    not import purchases)."""
    order_line = apps.get_model("purchases", "OrderLine")
    top = (
        order_line.objects.filter(customer__user__isnull=False)
        .values("customer__user")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if top is None:
        raise CommandError("No shopper with a login has any order lines: load the demo data.")
    return User.objects.get(pk=top["customer__user"]), top["n"]


class Command(BaseCommand):
    help = "Export and erase the shopper with the most order lines; print times and checks."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", help="Bench this login instead of the heaviest.")
        parser.add_argument(
            "--commit",
            action="store_true",
            help="Keep the erasure (default: roll it back so the bench can be repeated).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["email"]:
            user = User.objects.filter(email__iexact=options["email"]).first()
            if user is None:
                raise CommandError(f"No login {options['email']}")
            lines = None
        else:
            user, lines = heaviest_user()
        subject = data_rights.subject_for(user)
        self.stdout.write(
            f"shopper: login {user.pk}, customer {subject.customer_id}"
            + (f", {lines} order lines" if lines is not None else "")
        )

        # A worker has its URL map loaded after its first task; load it before timing.
        reverse("accounts:data")
        export, _ = data_rights.request_export(user=user, enqueue=False)
        in_database = data_rights.database_row_counts(subject)
        started = time.perf_counter()
        built = data_rights.build_export(export_id=export.pk, announce=False)
        export_seconds = time.perf_counter() - started
        if built is None:
            raise CommandError("The export was not built (another build is running?)")
        path = data_rights.export_path(built)
        in_zip = data_rights.zip_row_counts(path)
        mismatches = {
            key: (in_zip.get(key), n) for key, n in in_database.items() if in_zip.get(key) != n
        }
        self.stdout.write(f"export: {export_seconds:.2f} s wall, ZIP {built.size_bytes:,} bytes")
        self.stdout.write(
            f"  rows in ZIP: {sum(in_zip.values()):,} in {len(in_zip)} files "
            f"(orders {in_zip.get('purchases.orders', 0):,}, "
            f"order lines {in_zip.get('purchases.order_lines', 0):,})"
        )
        if mismatches:
            self.stdout.write(f"  row counts ZIP vs database: MISMATCH {mismatches}")
        else:
            self.stdout.write("  row counts ZIP vs database: equal for every file")

        email, user_id, customer_id = user.email, user.pk, subject.customer_id
        leftovers: list[data_rights.Leftover] = []
        try:
            with transaction.atomic():
                started = time.perf_counter()
                record = data_rights.erase_account(user=user, method=ErasureRecord.Method.BENCH)
                erase_seconds = time.perf_counter() - started
                leftovers = data_rights.remaining_rows(
                    user_id=user_id, customer_id=customer_id, email=email
                )
                if not options["commit"]:
                    raise _Rollback
        except _Rollback:
            pass
        self.stdout.write(
            f"erasure: {erase_seconds:.2f} s wall, {record.total_rows:,} rows deleted"
            + ("" if options["commit"] else " (rolled back)")
        )
        left = sum(leftover.rows for leftover in leftovers)
        self.stdout.write(f"  rows left after erasure: {left}")
        for leftover in leftovers:
            self.stdout.write(f"    {leftover.model} via {leftover.how}: {leftover.rows}")
        if not options["commit"]:
            path.unlink(missing_ok=True)
            DataExport.objects.filter(pk=built.pk).delete()
        if mismatches or left:
            raise CommandError("Privacy checks failed")
