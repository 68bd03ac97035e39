"""The list as pages, shared text, CSV and the API show it: stored rows only, fixed queries."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from insights.forecasts import services
from insights.forecasts.models import (
    HIGH_CONFIDENCE,
    LIKELY_CONFIDENCE,
    MAYBE_CONFIDENCE,
    Forecast,
    ListItem,
    ListSnapshot,
    ShoppingList,
)
from insights.forecasts.wording import evidence_text, trip_text
from insights.purchases import services as purchase_services

# A refresh stuck longer than this (a worker died) is shown as out of date, not polled forever.
COMPUTING_TIMEOUT = timedelta(minutes=10)
CONFIDENCE_WORDS = {
    "high": lambda: _("high"),
    "likely": lambda: _("likely"),
    "maybe": lambda: _("maybe"),
}


@dataclass
class Row:
    """One list item as the page shows it, its words prepared once here.

    The page's texts per item are built in Python rather than with a {% blocktranslate %}
    each in the template: on a 40-item list that is the difference of many milliseconds.
    """

    item: ListItem
    forecast: Forecast | None
    evidence: str
    popular: bool
    action_url: str = ""
    confidence: str = ""
    confidence_text: str = ""
    confidence_title: str = ""
    expected_text: str = ""
    quantity: str = ""

    @property
    def percent(self) -> int | None:
        p = self.item.probability
        return None if p is None else round(p * 100)

    def prepare(self, action_prefix: str) -> "Row":
        item = self.item
        self.action_url = f"{action_prefix}{item.pk}/"
        self.quantity = quantity_text(item.quantity)
        if item.kind == ListItem.Kind.TOGETHER and item.probability is not None:
            self.confidence_title = _("In %(p)s%% of baskets with it") % {"p": self.percent}
        if not self.popular and item.confidence:
            self.confidence = item.confidence
            self.confidence_text = CONFIDENCE_WORDS[item.confidence]()
            self.confidence_title = _("%(p)s%% likely you need it this trip") % {"p": self.percent}
        forecast = self.forecast
        if forecast is not None and forecast.expected_date and not self.popular:
            self.expected_text = _("needed by about %(date)s") % {
                "date": date_format(forecast.expected_date, pgettext("date format", "j M"))
            }
        return self


@dataclass
class Group:
    name: str
    rows: list[Row]


def list_context(user: Any) -> dict[str, Any]:
    """Everything the list page, its text and CSV forms show, in four queries."""
    today = timezone.localdate()
    # One query: the list, and whether new orders are waiting for their refresh (the
    # debounce window), so the page says "updating" from the order on, not from the task.
    shopping_list = (
        ShoppingList.objects.filter(user=user)
        .annotate(refresh_queued=purchase_services.refresh_queued(OuterRef("user_id")))
        .first()
    )
    items: list[ListItem] = []
    forecasts: dict[int, Forecast] = {}
    if shopping_list is not None:
        items = list(
            ListItem.objects.filter(shopping_list=shopping_list).select_related(
                "product", "department", "because_of"
            )
        )
        product_ids = [i.product_id for i in items if i.product_id and i.kind != "together"]
        if product_ids:
            forecasts = {
                f.product_id: f
                for f in Forecast.objects.filter(user=user, product_id__in=product_ids).order_by()
            }
    last = ListSnapshot.objects.filter(user=user).first()

    groups: dict[Any, Group] = {}
    popular: list[Row] = []
    skipped: list[Row] = []
    together: list[Row] = []
    # The items' action URL differs only by its id: reverse once, not once per item.
    action_prefix = reverse("forecasts:item_action", args=[0])[: -len("0/")]
    for item in sorted(items, key=_item_order):
        forecast = forecasts.get(item.product_id) if item.product_id else None
        is_popular = item.kind == ListItem.Kind.PREDICTED and (
            forecast is None or forecast.source == Forecast.Source.POPULAR
        )
        if item.kind == ListItem.Kind.OWN:
            evidence = _("Added by you")
        elif item.kind == ListItem.Kind.TOGETHER:
            evidence = (
                _("Often bought with %(product)s") % {"product": item.because_of.name}
                if item.because_of_id
                else _("Often bought together")
            )
        else:
            evidence = evidence_text(forecast, today)
        row = Row(item=item, forecast=forecast, evidence=evidence, popular=is_popular)
        row.prepare(action_prefix)
        if item.kind == ListItem.Kind.TOGETHER:
            if item.state == ListItem.State.OPEN:
                together.append(row)
        elif item.state == ListItem.State.SKIPPED:
            skipped.append(row)
        elif is_popular:
            popular.append(row)
        else:
            key = item.department_id
            if key not in groups:
                name = item.department.name if item.department_id else _("Other")
                groups[key] = Group(name=name, rows=[])
            groups[key].rows.append(row)

    computing = shopping_list is not None and (
        shopping_list.refresh_queued
        or (
            shopping_list.is_computing
            and shopping_list.status_changed_at > timezone.now() - COMPUTING_TIMEOUT
        )
    )
    to_buy = [r for g in groups.values() for r in g.rows] + popular
    return {
        "shopping_list": shopping_list,
        "computing": computing,
        "trip_text": trip_text(shopping_list.for_trip_on if shopping_list else None, today),
        "groups": list(groups.values()),
        "popular": popular,
        "skipped": skipped,
        "together": together,
        "n_open": sum(1 for r in to_buy if r.item.state == ListItem.State.OPEN),
        "n_ticked": sum(1 for r in to_buy if r.item.state == ListItem.State.TICKED),
        "last_list": last,
        "tick_word": _("Tick off"),
        "untick_word": _("Untick"),
        "more_word": _("More"),
        "words": {
            "not_this_time": _("Not this time"),
            "still_have": _("I still have some"),
            "days": _("Days"),
            "snooze": _("Snooze"),
            "never": _("Never suggest again"),
            "remove": _("Remove"),
        },
        "snooze_options": [
            (d, ngettext("%(count)d day", "%(count)d days", d) % {"count": d})
            for d in services.SNOOZE_CHOICES
        ],
        "thresholds": {
            "high": round(HIGH_CONFIDENCE * 100),
            "likely": round(LIKELY_CONFIDENCE * 100),
            "maybe": round(MAYBE_CONFIDENCE * 100),
        },
        "share_text": _share_text(groups.values(), popular),
    }


def _item_order(item: ListItem) -> tuple:
    department = item.department
    return (
        department.aisle_order if department else 10_000,
        department.name if department else "",
        0 if item.kind == ListItem.Kind.OWN else 1,
        -(item.probability or 0),
        item.label.lower(),
    )


def quantity_text(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"


def _share_text(groups: Any, popular: list[Row]) -> str:
    lines: list[str] = []
    for group in groups:
        open_rows = [r for r in group.rows if r.item.state == ListItem.State.OPEN]
        if not open_rows:
            continue
        lines.append(group.name.upper())
        lines += [f"[ ] {r.item.label} × {quantity_text(r.item.quantity)}" for r in open_rows]
        lines.append("")
    open_popular = [r for r in popular if r.item.state == ListItem.State.OPEN]
    if open_popular:
        lines.append(_("Popular with other shoppers").upper())
        lines += [f"[ ] {r.item.label} × {quantity_text(r.item.quantity)}" for r in open_popular]
    return "\n".join(lines).strip() + "\n"
