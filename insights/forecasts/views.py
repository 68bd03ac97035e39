"""The predicted shopping list page, its htmx actions, and its print, text and CSV forms.

Pages read the stored list, items and forecasts only: no pandas or model on the request
path, and a fixed number of queries however long the list is.
"""

import csv
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, Exists, OuterRef, Q, When
from django.db.models.functions import Length
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.consent import is_allowed
from accounts.gates import render_gate
from accounts.purposes import PREDICTIONS
from insights.catalog.models import Product
from insights.forecasts import services
from insights.forecasts.listing import Row, list_context, quantity_text
from insights.forecasts.models import Forecast, ListItem

SEARCH_LIMIT = 8


def _predictions_required(view):
    """Log in, and show the feature gate instead of the view until `predictions` is granted.

    Actions put `require_POST` outside it: any other method on an action URL is a 405 for
    everyone, never a gate page that answers 200 whatever the item id.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_allowed(request.user, PREDICTIONS):
            return render_gate(
                request, PREDICTIONS, status=403 if request.method == "POST" else 200
            )
        return view(request, *args, **kwargs)

    return wrapper


def _get_item_for_user(request: HttpRequest, pk: int) -> ListItem:
    return get_object_or_404(
        ListItem.objects.select_related("shopping_list"), pk=pk, shopping_list__user=request.user
    )


def _render_list(request: HttpRequest, *, error: str = "") -> HttpResponse:
    context = list_context(request.user)
    context["error"] = error
    template = "forecasts/list.html"
    if request.htmx:
        template += "#shopping-list"
    return render(request, template, context)


def _done(request: HttpRequest) -> HttpResponse:
    """After an action: the list fragment for htmx, a redirect back for a plain form."""
    if request.htmx:
        return _render_list(request)
    return redirect("forecasts:index")


def _failed(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A refused action: the message inside the fragment for htmx, a flash message otherwise."""
    if request.htmx:
        return _render_list(request, error=str(exc))
    messages.error(request, str(exc))
    return redirect("forecasts:index")


@_predictions_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@require_POST
@_predictions_required
def item_action(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_item_for_user(request, pk)
    action = request.POST.get("action", "")
    days: int | None = None
    if request.POST.get("days"):
        try:
            days = int(request.POST["days"])
        except ValueError:
            days = None
    try:
        services.apply_item_action(user=request.user, item=item, action=action, days=days)
    except services.ActionError as exc:
        return _failed(request, exc)
    return _done(request)


@require_POST
@_predictions_required
def add_item(request: HttpRequest) -> HttpResponse:
    product = None
    if request.POST.get("product"):
        product = get_object_or_404(Product, pk=request.POST["product"], active=True)
    try:
        quantity = Decimal(request.POST.get("quantity") or "1")
    except InvalidOperation:
        quantity = Decimal("0")
    try:
        services.add_own_item(
            user=request.user,
            product=product,
            free_text=request.POST.get("free_text", ""),
            quantity=quantity,
        )
    except services.ActionError as exc:
        return _failed(request, exc)
    return _done(request)


def search_products(query: str, user: Any = None) -> list[Product]:
    """Active, listable products matching name, brand or SKU: what the shopper bought before
    first, then names starting with the query, then shorter names."""
    query = query.strip()
    if len(query) < 2:
        return []
    bought = Exists(Forecast.objects.filter(user=user, product=OuterRef("pk")))
    return list(
        Product.objects.filter(active=True)
        .filter(Q(name__icontains=query) | Q(brand__icontains=query) | Q(sku__iexact=query))
        .exclude(category__never_list=True)
        .exclude(category__department__never_list=True)
        .annotate(
            bought=bought,
            starts=Case(When(name__istartswith=query, then=1), default=0),
            length=Length("name"),
        )
        .order_by("-bought", "-starts", "length", "name")[:SEARCH_LIMIT]
    )


@_predictions_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    context = {"query": query, "results": search_products(query, request.user)}
    if request.htmx:
        return render(request, "forecasts/list.html#search-results", context)
    return render(request, "forecasts/search.html", context)


@require_POST
@_predictions_required
def refresh(request: HttpRequest) -> HttpResponse:
    services.request_refresh(user_ids=[request.user.pk])
    return _done(request)


@_predictions_required
@require_GET
def share_text(request: HttpRequest) -> HttpResponse:
    context = list_context(request.user)
    body = f"{context['trip_text']}\n\n{context['share_text']}"
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


@_predictions_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    context = list_context(request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="shopping-list.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "department",
            "item",
            "sku",
            "quantity",
            "kind",
            "state",
            "confidence",
            "probability",
            "evidence",
        ]
    )
    for group in context["groups"]:
        for row in group.rows:
            _csv_row(writer, group.name, row)
    for row in context["popular"] + context["skipped"]:
        _csv_row(writer, row.item.department.name if row.item.department_id else "", row)
    return response


def _csv_row(writer: Any, department: str, row: Row) -> None:
    item = row.item
    writer.writerow(
        [
            department,
            item.label,
            item.product.sku if item.product_id else "",
            quantity_text(item.quantity),
            item.kind,
            item.state,
            "popular" if row.popular else item.confidence,
            "" if item.probability is None else f"{item.probability:.3f}",
            row.evidence,
        ]
    )


@_predictions_required
@require_GET
def print_view(request: HttpRequest) -> HttpResponse:
    return render(request, "forecasts/print.html", list_context(request.user))
