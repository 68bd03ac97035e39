"""Pages of the pantry: the pantry, item actions, notifications, calendar feed, unsubscribe."""

from collections import OrderedDict
from datetime import date, timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.consent import is_allowed
from accounts.gates import render_gate
from accounts.models import User
from accounts.purposes import EMAIL, PANTRY
from insights.pantry import services
from insights.pantry.feeds import calendar_response
from insights.pantry.forms import CorrectDateForm, PantrySettingsForm
from insights.pantry.models import Notification, PantryItem, PantrySettings

# How far back the page lists packs taken as used up because they were bought again.
REPLACED_SHOWN_DAYS = 14
ACTIONS = {"used", "thrown", "opened", "frozen", "date", "remove", "restore"}


def _get_item_for_user(user: User, pk: int) -> PantryItem:
    """The shopper's own item, or 404 (another shopper's item looks like no item at all)."""
    return get_object_or_404(
        PantryItem.objects.select_related("product__category"), pk=pk, user=user
    )


# A pk no item has, reversed once per action and replaced by each item's own: a pantry can
# list hundreds of items, and seven {% url %} tags per item were a tenth of the page's time.
_PK_SLOT = str(2**31 - 1)


def _action_url_patterns() -> dict[str, str]:
    return {
        action: reverse("pantry:item_action", kwargs={"pk": _PK_SLOT, "action": action})
        for action in ACTIONS
    }


def _decorate(items: list[PantryItem], today: date) -> list[PantryItem]:
    patterns = _action_url_patterns()
    for item in items:
        item.urls = {
            action: url.replace(f"/{_PK_SLOT}/", f"/{item.pk}/") for action, url in patterns.items()
        }
        item.status = item.status_on(today)
        item.days_left = (item.best_before - today).days
        item.days_ago = -item.days_left
        item.hint = item.use_in_time_hint(today)
    return items


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request.user, PANTRY):
        return render_gate(request, PANTRY)
    today = timezone.localdate()
    pantry_settings = services.get_settings(request.user)
    items = _decorate(
        list(
            PantryItem.objects.for_shopper(request.user)
            .in_pantry()
            .select_related("product__category__department")
        ),
        today,
    )
    expired = [i for i in items if i.status == "expired"]
    due_soon = [i for i in items if i.status == "due_soon"]
    by_category: OrderedDict[str, list[PantryItem]] = OrderedDict()
    rest = sorted(
        (i for i in items if i.status == "fresh"),
        key=lambda i: (
            i.product.category.department.aisle_order if i.product.category else 10_000,
            i.product.category.name if i.product.category else "",
            i.best_before,
        ),
    )
    for item in rest:
        name = item.product.category.name if item.product.category else _("Other")
        by_category.setdefault(name, []).append(item)
    # Packs taken as used up because the product was bought again, lately: listed folded,
    # each with an undo, in case the shopper still has one.
    replaced = _decorate(
        list(
            PantryItem.objects.for_shopper(request.user)
            .filter(
                state=PantryItem.State.REPLACED,
                finished_on__gte=today - timedelta(days=REPLACED_SHOWN_DAYS),
            )
            .select_related("product")
            .order_by("-finished_on", "product__name", "id")
        ),
        today,
    )
    context = {
        "today": today,
        "expired": expired,
        "due_soon": due_soon,
        "by_category": by_category,
        "replaced": replaced,
        "replaced_shown_days": REPLACED_SHOWN_DAYS,
        "item_count": len(items),
        "pantry_settings": pantry_settings,
        "settings_form": PantrySettingsForm(instance=pantry_settings),
        "calendar_url": _calendar_url(request, pantry_settings),
        "email_allowed": is_allowed(request.user, EMAIL),
        **_waste_context(request.user, today),
    }
    return render(request, "pantry/index.html", context)


def _calendar_url(request: HttpRequest, pantry_settings: PantrySettings) -> str:
    if not pantry_settings.calendar_token:
        return ""
    return request.build_absolute_uri(
        reverse("pantry:calendar_feed", kwargs={"token": pantry_settings.calendar_token})
    )


CHART_HEIGHT = 100
BAR_WIDTH = 28
BAR_GAP = 16


def _waste_context(user: User, today: date) -> dict[str, object]:
    months = services.waste_summary(user=user, today=today, months=6)
    top = max((m.total for m in months), default=Decimal("0"))
    bars = []
    for index, month in enumerate(months):
        height = int(month.total / top * CHART_HEIGHT) if top else 0
        if month.total and height < 2:
            height = 2
        bars.append(
            {
                "month": month.month,
                "total": month.total,
                "x": index * (BAR_WIDTH + BAR_GAP) + BAR_GAP // 2,
                "y": CHART_HEIGHT - height + 4,
                "height": height,
                "by_category": sorted(month.by_category.items(), key=lambda kv: -kv[1]),
            }
        )
    recent = sum((m.total for m in months[3:]), Decimal("0"))
    earlier = sum((m.total for m in months[:3]), Decimal("0"))
    trend = int(round((recent - earlier) / earlier * 100)) if earlier else None
    return {
        "waste_bars": bars,
        "waste_total": sum((m.total for m in months), Decimal("0")),
        "waste_trend": trend,
        "waste_trend_abs": abs(trend) if trend is not None else None,
        "waste_recent": recent,
        "waste_earlier": earlier,
        "chart_width": len(bars) * (BAR_WIDTH + BAR_GAP),
        "chart_height": CHART_HEIGHT + 24,
        "bar_width": BAR_WIDTH,
        "this_month": bars[-1] if bars else None,
    }


@login_required
@require_POST
def item_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404
    item = _get_item_for_user(request.user, pk)
    if not is_allowed(request.user, PANTRY):
        return render_gate(request, PANTRY, status=403)
    today = timezone.localdate()
    pantry_settings = services.get_settings(request.user)
    error = ""
    if action == "used":
        services.mark_used(item=item, on=today)
    elif action == "thrown":
        share = services.THROWN_SHARES.get(request.POST.get("share", "all"))
        if share is None:
            error = _("Choose how much was thrown away.")
        else:
            services.mark_thrown(item=item, share=share, on=today)
    elif action == "opened":
        services.mark_opened(item=item, on=today, pantry_settings=pantry_settings)
    elif action == "frozen":
        services.mark_frozen(item=item, on=today, pantry_settings=pantry_settings)
    elif action == "date":
        form = CorrectDateForm(request.POST, bought_on=item.bought_on)
        if form.is_valid():
            services.correct_date(
                item=item,
                best_before=form.cleaned_data["best_before"],
                pantry_settings=pantry_settings,
            )
        else:
            error = " ".join(form.errors.get("best_before", [])) or _("Enter a valid date.")
    elif action == "remove":
        services.remove_item(item=item, on=today)
    elif action == "restore":
        services.restore_item(item=item)
    if request.htmx:
        _decorate([item], today)
        context = {"item": item, "today": today, "item_error": error}
        # 200 even with an error: htmx swaps only successful responses, and the fragment
        # shows the message beside the item.
        return render(request, "pantry/index.html#pantry-item", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Saved: %(product)s.") % {"product": item.product.name})
    return redirect("pantry:index")


@login_required
@require_POST
def update_settings(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request.user, PANTRY):
        return render_gate(request, PANTRY, status=403)
    form = PantrySettingsForm(request.POST, instance=services.get_settings(request.user))
    if form.is_valid():
        services.update_settings(
            user=request.user,
            due_soon_days=form.cleaned_data["due_soon_days"],
            quiet_hours_start=form.cleaned_data["quiet_hours_start"],
            quiet_hours_end=form.cleaned_data["quiet_hours_end"],
        )
        messages.success(request, _("Reminder settings saved."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("pantry:index")


@login_required
@require_POST
def manage_calendar(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request.user, PANTRY):
        return render_gate(request, PANTRY, status=403)
    if request.POST.get("action") == "revoke":
        services.revoke_calendar_token(user=request.user)
        messages.success(request, _("The calendar link no longer works."))
    else:
        services.regenerate_calendar_token(user=request.user)
        messages.success(request, _("A new calendar link is ready; any old link stopped working."))
    return redirect(reverse("pantry:index") + "#pantry-calendar")


def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The secret feed URL: no login (calendar apps cannot log in); unknown token → 404."""
    pantry_settings = (
        PantrySettings.objects.select_related("user").filter(calendar_token=token).first()
    )
    if pantry_settings is None or not is_allowed(pantry_settings.user, PANTRY):
        raise Http404
    return calendar_response(user=pantry_settings.user)


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request.user, PANTRY):
        return render_gate(request, PANTRY)
    items = list(
        Notification.objects.filter(user=request.user).select_related("item__product")[:100]
    )
    unread = sum(1 for n in items if n.read_at is None)
    return render(request, "pantry/notifications.html", {"notifications": items, "unread": unread})


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    if not is_allowed(request.user, PANTRY):
        return render_gate(request, PANTRY, status=403)
    notification = get_object_or_404(
        Notification.objects.select_related("item__product"), pk=pk, user=request.user
    )
    services.mark_notifications_read(user=request.user, ids=[notification.pk])
    notification.refresh_from_db(fields=["read_at"])
    if request.htmx:
        return render(
            request, "pantry/notifications.html#notification", {"notification": notification}
        )
    return redirect("pantry:notifications")


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request.user, PANTRY):
        return render_gate(request, PANTRY, status=403)
    services.mark_notifications_read(user=request.user)
    return redirect("pantry:notifications")


# Mail clients POST here without a session or CSRF token (RFC 8058 one-click); the signed
# token is the authorisation, and it can only ever withdraw a consent.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    user = services.user_from_unsubscribe_token(token)
    if user is None:
        raise Http404
    if request.method == "POST":
        services.unsubscribe(user=user)
        return render(request, "pantry/unsubscribed.html", {"shopper": user})
    return render(
        request,
        "pantry/unsubscribe.html",
        {"shopper": user, "token": token, "subscribed": is_allowed(user, EMAIL)},
    )
