"""The iCalendar feed of best-before dates: one all-day event per date, items in the pantry only."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from icalendar import Calendar, Event

from accounts.models import User
from insights.pantry.models import PantryItem


def build_calendar(*, user: User) -> bytes:
    """One event per best-before date listing what passes its date then (fewer, fuller
    entries than one per item: a shopping trip's ten yoghurts are one reminder)."""
    by_day: dict = {}
    for item in (
        PantryItem.objects.for_shopper(user)
        .in_pantry()
        .select_related("product")
        .order_by("best_before", "pk")
    ):
        by_day.setdefault(item.best_before, []).append(item)
    pantry_url = settings.SITE_URL.rstrip("/") + reverse("pantry:index")
    with override(user.language):
        calendar = Calendar()
        calendar.add("prodid", "-//Kvitto//Pantry best-before dates//EN")
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", _("Kvitto pantry"))
        stamp = timezone.now()
        for day, items in by_day.items():
            names = [item.product.name for item in items]
            event = Event()
            event.add("uid", f"pantry-{user.pk}-{day.isoformat()}@kvitto")
            event.add("dtstamp", stamp)
            event.add("dtstart", day)
            event.add("dtend", day + timedelta(days=1))
            event.add("summary", _("Best before: %(items)s") % {"items": ", ".join(names)})
            event.add("description", "\n".join(names))
            event.add("url", pantry_url)
            event.add("transp", "TRANSPARENT")
            calendar.add_component(event)
    return calendar.to_ical()


def calendar_response(*, user: User) -> HttpResponse:
    response = HttpResponse(build_calendar(user=user), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kvitto-pantry.ics"'
    # The URL is a secret: keep it and its content out of shared caches.
    response["Cache-Control"] = "private, no-store"
    return response
