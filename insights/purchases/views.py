"""Purchase history: months with totals, filters in the URL, one order's lines."""

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from accounts.models import Customer
from insights.catalog.models import Category
from insights.purchases.filters import (
    FILTER_PARAMS,
    WEEKDAY_CHOICES,
    HistoryFilterForm,
    HistoryFilters,
    filter_orders,
    local_midnight,
)
from insights.purchases.models import Order, OrderLine, OrderQuerySet

ORDERS_PER_PAGE = 25


@dataclass
class Month:
    """One month on the page: its orders on this page, its totals under the filters."""

    start: datetime
    orders: list[Order] = field(default_factory=list)
    order_count: int = 0
    spent: Decimal = Decimal("0.00")
    saved: Decimal = Decimal("0.00")

    @property
    def continues(self) -> bool:
        """The month has orders on other pages too."""
        return len(self.orders) < self.order_count


@require_safe
@login_required
@vary_on_headers("HX-Request")
def history(request: HttpRequest) -> HttpResponse:
    """The shopper's orders by month, newest first, narrowed by URL parameters.

    Parameters (all optional; the same names work on /api/v1/me/orders):
      q           text in a bought product's name or brand, or its exact SKU
      from, to    dates YYYY-MM-DD, inclusive, in the shopper's time zone
      category    a catalog category id: orders with at least one line in it
      department  a catalog department id: orders with at least one line in it
      channel     store, web or app
      weekday     0-6, Monday first, in the shopper's time zone (heat map links)
      hour        0-23 in the shopper's time zone (heat map links)
      page        the page of 25 orders

    A bad parameter is dropped with a note and the others still apply. The query count
    is fixed whatever the history's size: the customer, the shopper's categories (whole
    page only), the count, the page of orders and one aggregate for the months on the page.
    """
    user = request.user
    customer_id = Customer.objects.filter(user=user).values_list("pk", flat=True).first()
    if customer_id is None:
        return render(request, "purchases/history.html", {"state": "unlinked"})

    tz = timezone.get_current_timezone()
    form = HistoryFilterForm(request.GET)
    fragment = bool(request.htmx and not request.htmx.boosted)
    if not fragment:
        # The selects are only drawn on the whole page; the results fragment a filter or page
        # change swaps in needs none of them, and this is the page's dearest query.
        form.set_catalog_choices(_categories_bought(customer_id))
    filters = HistoryFilters.from_form(form)
    orders = filter_orders(Order.objects.for_shopper(user), filters, tz)

    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    months = _months_on_page(page, orders, tz)
    if months:
        state = "orders"
    elif filters.active and Order.objects.for_shopper(user).exists():
        state = "no_match"
    else:
        state = "no_orders"

    context = {
        "state": state,
        "form": form,
        "filters": filters,
        "page_obj": page,
        "months": months,
        "weekday_label": _weekday_label(filters),
    }
    query = _clean_query(request)
    context["query"] = query
    if fragment:
        response = render(request, "purchases/history.html#history-results", context)
        # The form sends its empty fields too; the address bar gets only those in use.
        push_url(response, f"{request.path}?{query.urlencode()}" if query else request.path)
        return response
    return render(request, "purchases/history.html", context)


@require_safe
@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """One order's header and lines; another shopper's order is a 404, never a 403."""
    order = get_object_or_404(Order.objects.for_shopper(request.user), pk=order_id)
    lines = list(
        OrderLine.objects.filter(order=order)
        .select_related("product__category__department")
        .order_by("line_no")
    )
    for line in lines:
        # The shopper sees one "discount": the store's price cut plus any coupon.
        line.saved = line.discount + line.coupon_discount
    totals = {
        "paid": sum((line.amount_paid for line in lines), Decimal("0.00")),
        "discount": sum((line.saved for line in lines), Decimal("0.00")),
    }
    return render(
        request, "purchases/order.html", {"order": order, "lines": lines, "totals": totals}
    )


def _clean_query(request: HttpRequest) -> QueryDict:
    """The filter parameters in use (and the page), without the form's empty fields."""
    query = QueryDict(mutable=True)
    for name in (*FILTER_PARAMS, "page"):
        value = request.GET.get(name, "").strip()
        if value:
            query[name] = value
    return query


def _categories_bought(customer_id: int) -> list[Category]:
    """Categories of products the shopper has bought: the choices worth offering."""
    # By customer id, not through the login, so the (customer, placed_at) index applies.
    bought = OrderLine.objects.filter(customer_id=customer_id).values("product__category_id")
    return list(Category.objects.filter(pk__in=bought).select_related("department"))


def _month_key(value: datetime, tz: tzinfo) -> tuple[int, int]:
    # Backends return the truncated month naive or aware; read it in the shopper's zone.
    if timezone.is_aware(value):
        value = timezone.localtime(value, tz)
    return value.year, value.month


def _months_on_page(page: Page, orders: OrderQuerySet, tz: tzinfo) -> list[Month]:
    """Group the page's orders by local month; totals cover each whole month (one query)."""
    months: dict[tuple[int, int], Month] = {}
    for order in page.object_list:
        local = timezone.localtime(order.placed_at, tz)
        key = (local.year, local.month)
        if key not in months:
            months[key] = Month(start=local_midnight(local.date().replace(day=1), tz))
        months[key].orders.append(order)
    if not months:
        return []

    first_year, first_month = min(months)
    last_year, last_month = max(months)
    after_last = (last_year + 1, 1) if last_month == 12 else (last_year, last_month + 1)
    start = local_midnight(date(first_year, first_month, 1), tz)
    end = local_midnight(date(*after_last, 1), tz)
    totals = (
        orders.filter(placed_at__gte=start, placed_at__lt=end)
        .annotate(month=TruncMonth("placed_at", tzinfo=tz))
        .order_by()
        .values("month")
        .annotate(order_count=Count("pk"), spent=Sum("total_amount"), saved=Sum("total_discount"))
    )
    for row in totals:
        month = months.get(_month_key(row["month"], tz))
        if month is not None:
            month.order_count = row["order_count"]
            month.spent = row["spent"] or Decimal("0.00")
            month.saved = row["saved"] or Decimal("0.00")
    return sorted(months.values(), key=lambda m: m.start, reverse=True)


def _weekday_label(filters: HistoryFilters) -> str:
    if filters.weekday is None:
        return ""
    return str(dict(WEEKDAY_CHOICES)[filters.weekday])
