"""The history filters shared by the history page and the shopper's orders API."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from insights.catalog.models import Category
from insights.purchases.models import Channel, OrderLine, OrderQuerySet

# Monday first, as the heat map draws its rows (0 = Monday … 6 = Sunday).
WEEKDAY_CHOICES = [
    (0, _("Mondays")),
    (1, _("Tuesdays")),
    (2, _("Wednesdays")),
    (3, _("Thursdays")),
    (4, _("Fridays")),
    (5, _("Saturdays")),
    (6, _("Sundays")),
]

# Form field name → URL parameter; "from" cannot be a Python attribute name.
_PARAM_NAMES = {"date_from": "from", "date_to": "to"}

# The parameters that narrow the history, as they appear in the URL (page and API alike).
FILTER_PARAMS = ("q", "from", "to", "category", "department", "channel", "weekday", "hour")


def blank_param_errors(params: QueryDict) -> dict[str, list[str]]:
    """For the API: typed filter parameters given with no value ("?category=").

    The page's form sends every field and a blank one means "all"; an API client that
    sends "category=" has a bug, and the schema says the value is an id, so the API
    answers 400 naming the parameter rather than silently returning everything. `q` is
    text, where an empty string is a value like any other.
    """
    return {
        name: [str(_("Give a value, or leave the parameter out."))]
        for name in FILTER_PARAMS
        if name != "q" and "" in params.getlist(name)
    }


class HistoryFilterForm(forms.Form):
    """Parses the URL's filter parameters; every field is optional and blank means "all".

    Category and department are plain ids: an id the shopper never bought from simply
    matches none of their orders, so no extra query is needed to validate it.
    """

    q = forms.CharField(
        label=_("Product"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, brand or SKU"), "autocomplete": "off"}
        ),
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    category = forms.IntegerField(
        label=_("Category"), required=False, min_value=1, widget=forms.Select
    )
    department = forms.IntegerField(
        label=_("Department"), required=False, min_value=1, widget=forms.Select
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=[("", _("All channels")), *Channel.choices],
    )
    weekday = forms.TypedChoiceField(
        label=_("Weekday"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any day")), *WEEKDAY_CHOICES],
        widget=forms.HiddenInput,
    )
    hour = forms.IntegerField(
        label=_("Hour"), required=False, min_value=0, max_value=23, widget=forms.HiddenInput
    )

    def add_prefix(self, field_name: str) -> str:
        return super().add_prefix(_PARAM_NAMES.get(field_name, field_name))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def param_errors(self) -> dict[str, list[str]]:
        """Errors keyed by URL parameter name ("from", not "date_from") for API answers."""
        return {
            _PARAM_NAMES.get(name, name): [str(e) for e in errors]
            for name, errors in self.errors.items()
        }

    def set_catalog_choices(self, categories: list[Category]) -> None:
        """Fill the category and department selects from the categories the shopper bought."""
        departments = {c.department_id: c.department for c in categories}
        self.fields["category"].widget.choices = [
            ("", _("All categories")),
            *[(c.pk, f"{c.department.name} · {c.name}") for c in categories],
        ]
        self.fields["department"].widget.choices = [
            ("", _("All departments")),
            *[
                (d.pk, d.name)
                for d in sorted(departments.values(), key=lambda d: (d.aisle_order, d.name))
            ],
        ]


@dataclass(frozen=True)
class HistoryFilters:
    """Validated filters; `None` or "" means the filter is off."""

    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    category: int | None = None
    department: int | None = None
    channel: str = ""
    weekday: int | None = None
    hour: int | None = None

    @classmethod
    def from_form(cls, form: HistoryFilterForm) -> "HistoryFilters":
        """The valid part of a bound form: a bad parameter is dropped, the rest still apply."""
        form.is_valid()
        data = getattr(form, "cleaned_data", {})
        return cls(
            q=(data.get("q") or "").strip(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            category=data.get("category"),
            department=data.get("department"),
            channel=data.get("channel") or "",
            weekday=data.get("weekday"),
            hour=data.get("hour"),
        )

    @property
    def active(self) -> bool:
        return any(
            value not in (None, "")
            for value in (
                self.q,
                self.date_from,
                self.date_to,
                self.category,
                self.department,
                self.channel,
                self.weekday,
                self.hour,
            )
        )


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The start of `day` in the shopper's zone; zoneinfo resolves DST for that date."""
    return datetime.combine(day, time.min, tzinfo=tz)


def filter_orders(orders: OrderQuerySet, filters: HistoryFilters, tz: tzinfo) -> OrderQuerySet:
    """Narrow `orders` (already the shopper's own) by `filters`, dates and hours read in `tz`.

    Line filters use EXISTS rather than a join so an order with two matching lines is
    still one row, and counts and sums over the result stay right.
    """
    if filters.date_from:
        orders = orders.filter(placed_at__gte=local_midnight(filters.date_from, tz))
    if filters.date_to:
        orders = orders.filter(
            placed_at__lt=local_midnight(filters.date_to + timedelta(days=1), tz)
        )
    if filters.channel:
        orders = orders.filter(channel=filters.channel)
    if filters.weekday is not None:
        orders = orders.alias(local_weekday=ExtractIsoWeekDay("placed_at", tzinfo=tz)).filter(
            local_weekday=filters.weekday + 1
        )
    if filters.hour is not None:
        orders = orders.alias(local_hour=ExtractHour("placed_at", tzinfo=tz)).filter(
            local_hour=filters.hour
        )
    line_conditions = Q()
    if filters.category:
        line_conditions &= Q(product__category_id=filters.category)
    if filters.department:
        line_conditions &= Q(product__category__department_id=filters.department)
    if line_conditions:
        orders = orders.filter(
            Exists(OrderLine.objects.filter(line_conditions, order=OuterRef("pk")))
        )
    if filters.q:
        # A separate EXISTS: "bought oat milk, in an order that had dairy" is the reading
        # a shopper expects when they combine a search with a category.
        text = (
            Q(product__name__icontains=filters.q)
            | Q(product__brand__icontains=filters.q)
            | Q(product__sku__iexact=filters.q)
        )
        orders = orders.filter(Exists(OrderLine.objects.filter(text, order=OuterRef("pk"))))
    return orders
