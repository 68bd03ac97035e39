"""The list's evidence and trip dates in words, translatable, for pages, the API and shared text."""

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from insights.forecasts.models import Forecast


def cadence_text(interval_days: float | None) -> str:
    """'about every 5 days' / 'about every 3 weeks' / 'about every 2 months'."""
    if interval_days is None or interval_days <= 0:
        return ""
    days = round(interval_days)
    if days < 12:
        days = max(days, 1)
        return ngettext("about every day", "about every %(count)d days", days) % {"count": days}
    if days < 56:
        weeks = round(interval_days / 7)
        return ngettext("about every week", "about every %(count)d weeks", weeks) % {"count": weeks}
    months = round(interval_days / 30.4)
    return ngettext("about every month", "about every %(count)d months", months) % {"count": months}


def since_text(first: date, today: date) -> str:
    """'May' within the last year, 'May 2025' before that."""
    if (today - first).days < 330:
        return date_format(first, "F")
    return date_format(first, "F Y")


def evidence_text(forecast: Forecast | None, today: date) -> str:
    """'bought 7 times since May, about every 3 weeks, last 19 days ago'."""
    if forecast is None or forecast.source == Forecast.Source.POPULAR:
        return gettext("Popular with other shoppers")
    parts = []
    n = forecast.n_purchases
    if forecast.first_bought is not None and n:
        parts.append(
            ngettext(
                "bought once, in %(since)s",
                "bought %(count)d times since %(since)s",
                n,
            )
            % {"count": n, "since": since_text(forecast.first_bought, today)}
        )
    cadence = cadence_text(forecast.interval_days) if n > 1 else ""
    if cadence:
        parts.append(cadence)
    if forecast.last_bought is not None:
        ago = (today - forecast.last_bought).days
        if ago <= 0:
            parts.append(gettext("last today"))
        else:
            parts.append(
                ngettext("last yesterday", "last %(count)d days ago", ago) % {"count": ago}
            )
    return ", ".join(parts)


def trip_text(trip: date | None, today: date) -> str:
    """'For your shop today / tomorrow / around Thursday / around 3 December'."""
    if trip is None:
        return gettext("For your next shop")
    delta = (trip - today).days
    if delta <= 0:
        return gettext("For your shop today")
    if delta == 1:
        return gettext("For your shop tomorrow")
    if delta < 7:
        return gettext("For your shop around %(weekday)s") % {"weekday": date_format(trip, "l")}
    return gettext("For your shop around %(date)s") % {"date": date_format(trip, "j F")}
