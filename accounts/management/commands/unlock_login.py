"""Lift the login pause of one e-mail address (support, when a shopper is paused by someone
else's guessing): deletes the failed attempts counted against it."""

from axes.models import AccessAttempt
from django.core.management.base import BaseCommand, CommandParser

from accounts.throttling import key_for_email


class Command(BaseCommand):
    help = "Forget the failed logins counted against an e-mail address, ending its pause."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the address, in any case")

    def handle(self, *args: object, email: str, **options: object) -> None:
        # Axes stores the keyed hash, never the address (accounts.throttling).
        count, _ = AccessAttempt.objects.filter(username=key_for_email(email)).delete()
        self.stdout.write(f"Removed {count} failed-login records for that address.")
