"""`manage.py demo_logins`: where the demo runs and how to log in to it."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from accounts.models import User
from insights.purchases import demo

HOW_MANY = 5


class Command(BaseCommand):
    help = "Print the site URL, the demo password and a few demo logins (heaviest shopper first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=HOW_MANY)

    def handle(self, *args: object, **options: object) -> None:
        site = getattr(settings, "SITE_URL", "http://127.0.0.1:8000")
        logins = (
            User.objects.filter(email__startswith="demo-", email__endswith="@kvitto.example")
            .annotate(orders=Count("customer__orders"))
            .order_by("-orders", "email")
            .values_list("email", "orders")[: int(options["count"])]
        )
        lines = ["", f"Kvitto is at {site}", ""]
        if logins:
            lines.append(f"Demo shoppers (password: {demo.DEMO_PASSWORD}):")
            lines += [f"  {email:<34} {orders:>4} orders" for email, orders in logins]
        else:
            lines.append("No demo shoppers yet: run `manage.py load_demo`.")
        lines.append("")
        if User.objects.filter(email=demo.ADMIN_EMAIL).exists():
            lines.append(
                f"Admin ({site}/admin/): {demo.ADMIN_EMAIL} / password {demo.ADMIN_PASSWORD}"
            )
        if User.objects.filter(email=demo.CATALOG_EMAIL).exists():
            lines.append(f"Catalog admin: {demo.CATALOG_EMAIL} / password {demo.CATALOG_PASSWORD}")
        self.stdout.write("\n".join(lines) + "\n")
