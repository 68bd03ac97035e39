"""Purchase history: months with totals, filters in the URL, one order's lines."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def history(request: HttpRequest) -> HttpResponse:
    return render(request, "purchases/history.html")


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    return render(request, "purchases/order.html")
