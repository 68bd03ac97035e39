"""The consent enforcement matrix: every purpose × every place that processes for it.

`PLACES` is the declared table. A row is one place (a page, an API endpoint, a Celery
task, a beat job, an e-mail, a command or the ingestion path), the purposes it processes
for, how to exercise it for Alice, and how to see that it processed. Each (purpose, place)
pair is one cell, run by `test_a_place_processes_nothing_for_a_purpose_without_its_consent`:

1. never granted: exercising the place computes, serves and sends nothing for the purpose;
2. granted (positive control, so the cell can fail): the place does process;
3. withdrawn: the derived rows are gone as soon as the withdrawal returns (same
   transaction), and exercising the place again computes, serves and sends nothing.

Charlie, another shopper, has every purpose granted throughout, so a place that stopped
working altogether would fail step 2, not pass step 3 by accident.

The meta-tests below fail when a URL, task, beat job or e-mail that may process for a
purpose is neither in the table nor in an exemption list with its reason: a new place is
one row. `pytest tests/test_consent_enforcement.py -s` prints the number of cells.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.purposes import EMAIL, INSIGHTS, MODEL_IMPROVEMENT, PANTRY, PREDICTIONS, SWITCHABLE
from insights.celery import app as celery_app
from insights.forecasts import services as forecast_services
from insights.forecasts import tasks as forecast_tasks
from insights.forecasts.models import ForecastModel, ListItem
from insights.habits import services as habit_services
from insights.habits import tasks as habit_tasks
from insights.habits.models import HabitHighlight, HabitSnapshot
from insights.pantry import services as pantry_services
from insights.pantry import tasks as pantry_tasks
from insights.pantry.models import DigestLog, Notification, PantryItem, PantrySettings
from tests.enforcement import (
    NOW,
    Catalog,
    QuickHabits,
    World,
    committed,
    derived,
    eager_celery,
    mails_to,
    order,
    use_fake_model,
)

ROOT = Path(__file__).resolve().parent.parent
MISSING_ID = 10**9


@dataclass
class Ctx:
    """What a place's exercise and observation functions get."""

    world: World
    client: object  # Django's test client, logged in as Alice
    fits: list[list[int]]  # training customer ids of every model fit since the last reset
    tmp_path: Path
    memo: dict[str, object] = field(default_factory=dict)

    @property
    def alice(self):  # noqa: ANN201
        return self.world.alice.user

    def remembered_id(self, key: str, queryset) -> int:  # noqa: ANN001
        """The first row's id, remembered so a later phase tries the same (maybe gone) row."""
        pk = queryset.order_by("pk").values_list("pk", flat=True).first()
        if pk is not None:
            self.memo[key] = pk
        return int(self.memo.get(key, MISSING_ID))


# --- How a place is seen to process -------------------------------------------------------


def served(ctx: Ctx, response, purpose: str) -> bool:  # noqa: ANN001
    """A page or endpoint did its job: a success or redirect, not the consent gate."""
    return response.status_code in (200, 201, 204, 302) and b'id="feature-gate"' not in (
        response.content if not getattr(response, "streaming", False) else b""
    )


def computed(ctx: Ctx, result, purpose: str) -> bool:  # noqa: ANN001
    """A computing place left derived rows (or mail, or a model fit) for Alice."""
    if purpose == EMAIL:
        return mails_to(ctx.alice) > 0
    if purpose == MODEL_IMPROVEMENT:
        return any(ctx.alice.customer.pk in ids for ids in ctx.fits)
    return bool(derived(purpose, ctx.alice))


def reset(ctx: Ctx, purpose: str) -> None:
    """Forget what was computed for `purpose`, so the next run must compute it itself."""
    alice = ctx.alice
    if purpose == INSIGHTS:
        habit_services.delete_habits(user=alice)
    elif purpose == PREDICTIONS:
        forecast_services.delete_predictions(user=alice)
    elif purpose == PANTRY:
        pantry_services.delete_pantry_data(user=alice)
    elif purpose == EMAIL:
        mail.outbox.clear()
        DigestLog.objects.filter(user=alice).delete()
        Notification.objects.filter(user=alice).update(emailed_at=None)
    elif purpose == MODEL_IMPROVEMENT:
        ForecastModel.objects.all().delete()
        forecast_services._payload_cache.clear()
    ctx.fits.clear()


def reset_notifications(ctx: Ctx, purpose: str) -> None:
    """The reminder job's own product is the notification; e-mail as for any place."""
    if purpose == PANTRY:
        Notification.objects.filter(user=ctx.alice).delete()
        DigestLog.objects.filter(user=ctx.alice).delete()
    else:
        reset(ctx, purpose)


# --- The table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """One place that processes for `purposes`; `needs` are purposes it also requires."""

    name: str
    kind: str  # view, api, task, beat, email, command, ingestion
    target: str  # URL name, Celery task name, or "module:function" for the meta-tests
    purposes: tuple[str, ...]
    run: Callable[[Ctx], object]
    processed: Callable[[Ctx, object, str], bool]
    needs: tuple[str, ...] = ()
    # Computing places start each phase from nothing, so what they leave is their own.
    reset: Callable[[Ctx, str], None] | None = None
    # Pages that render the habit summary need the real analysis; others use QuickHabits.
    real_habits: bool = False


def get(name: str, query: str = "") -> Callable[[Ctx], object]:
    return lambda ctx: ctx.client.get(reverse(name) + query)


def post(name: str, data: dict | None = None) -> Callable[[Ctx], object]:
    return lambda ctx: ctx.client.post(reverse(name), data or {})


def post_json(name: str, data: dict) -> Callable[[Ctx], object]:
    return lambda ctx: ctx.client.post(reverse(name), data, content_type="application/json")


def dismiss_highlight(ctx: Ctx):  # noqa: ANN201
    """Dismiss a "what changed" card. The small history makes none, so one stands in."""
    snapshot = HabitSnapshot.objects.filter(user=ctx.alice).first()
    if snapshot is not None and not snapshot.highlights.exists():
        HabitHighlight.objects.create(
            snapshot=snapshot, user=ctx.alice, key="spend-up", kind="spend_up", params={}
        )
    pk = ctx.remembered_id("highlight", HabitHighlight.objects.filter(user=ctx.alice))
    return ctx.client.post(reverse("habits:dismiss", args=[pk]))


def _model_item(ctx: Ctx) -> int:
    items = ListItem.objects.filter(shopping_list__user=ctx.alice).exclude(kind=ListItem.Kind.OWN)
    return ctx.remembered_id("list_item", items)


def list_item_action(ctx: Ctx):  # noqa: ANN201
    pk = _model_item(ctx)
    return ctx.client.post(reverse("forecasts:item_action", args=[pk]), {"action": "tick"})


def api_list_item_action(ctx: Ctx):  # noqa: ANN201
    pk = _model_item(ctx)
    return ctx.client.post(
        reverse("shopping-list-item-actions", args=[pk]),
        {"action": "tick"},
        content_type="application/json",
    )


def pantry_item_action(ctx: Ctx):  # noqa: ANN201
    pk = ctx.remembered_id("pantry_item", PantryItem.objects.filter(user=ctx.alice))
    return ctx.client.post(reverse("pantry:item_action", args=[pk, "opened"]))


def calendar_feed(ctx: Ctx):  # noqa: ANN201
    """The feed by its secret URL, without a login: made while granted, tried again after."""
    pantry_settings = PantrySettings.objects.filter(user=ctx.alice).first()
    if pantry_settings is not None and pantry_settings.calendar_token:
        ctx.memo["calendar_token"] = pantry_settings.calendar_token
    if "calendar_token" not in ctx.memo and PANTRY in ctx.world.granted(ctx.alice):
        ctx.memo["calendar_token"] = pantry_services.regenerate_calendar_token(
            user=ctx.alice
        ).calendar_token
    token = ctx.memo.get("calendar_token", "no-such-token")
    return ctx.client.get(reverse("pantry:calendar_feed", args=[token]))


def read_notification(ctx: Ctx):  # noqa: ANN201
    if not Notification.objects.filter(user=ctx.alice).exists():
        pantry_tasks.send_due_reminders_task.delay()
    pk = ctx.remembered_id("notification", Notification.objects.filter(user=ctx.alice))
    return ctx.client.post(reverse("pantry:notification_read", args=[pk]))


def read_all_notifications(ctx: Ctx):  # noqa: ANN201
    if not Notification.objects.filter(user=ctx.alice).exists():
        pantry_tasks.send_due_reminders_task.delay()
    return ctx.client.post(reverse("pantry:notifications_read_all"))


def bell_on_history_page(ctx: Ctx):  # noqa: ANN201
    """Any page draws the bell with the unread count (the history page needs no purpose)."""
    if not Notification.objects.filter(user=ctx.alice).exists():
        pantry_tasks.send_due_reminders_task.delay()
    return ctx.client.get(reverse("purchases:history"))


def bell_rings(ctx: Ctx, response, purpose: str) -> bool:  # noqa: ANN001
    return response.status_code == 200 and b"pantry-bell-count" in response.content


def send_digest_directly(ctx: Ctx) -> bool:
    """The e-mail itself, called as the reminder job calls it, for Alice's notifications."""
    item = PantryItem.objects.filter(user=ctx.alice).order_by("best_before", "pk").first()
    if item is not None and not Notification.objects.filter(user=ctx.alice).exists():
        Notification.objects.create(
            user=ctx.alice,
            kind=Notification.Kind.DUE_SOON,
            item=item,
            payload={"product": item.product.name, "best_before": item.best_before.isoformat()},
            dedupe_key=f"enforcement:{item.pk}",
        )
    notifications = list(Notification.objects.filter(user=ctx.alice))
    return pantry_services.send_digest(user=ctx.alice, day=NOW.date(), notifications=notifications)


def request_an_export(ctx: Ctx) -> None:
    """The shopper asks for their data; the ZIP is built on commit and announced."""
    from accounts.data_rights import request_export

    with committed():
        request_export(user=ctx.alice)


def export_predictions_command(ctx: Ctx) -> str:
    out = ctx.tmp_path / "predictions.csv"
    call_command("export_predictions", as_of=NOW.isoformat(), out=str(out), stdout=io.StringIO())
    return out.read_text()


def exported_for_alice(ctx: Ctx, text: str, purpose: str) -> bool:
    if purpose == PREDICTIONS:
        return ctx.world.alice.card in text
    return computed(ctx, text, purpose)


PLACES: list[Place] = [
    # Habit summaries (insights)
    Place("habits page", "view", "habits:index", (INSIGHTS,), get("habits:index"), served,
          real_habits=True),
    Place("habits page, custom range", "view", "habits:index", (INSIGHTS,),
          get("habits:index", "?period=custom&from=2026-09-01&to=2026-10-31"), served,
          real_habits=True),
    Place("dismiss a highlight", "view", "habits:dismiss", (INSIGHTS,), dismiss_highlight, served,
          real_habits=True),
    Place("GET /api/v1/me/habits", "api", "me-habits", (INSIGHTS,), get("me-habits"), served),
    Place("refresh_habits_task", "task", "insights.habits.tasks.refresh_habits_task",
          (INSIGHTS,), lambda ctx: habit_tasks.refresh_habits_task.delay(ctx.alice.pk),
          computed, reset=reset),
    Place("refresh_habits_batch_task", "task", "insights.habits.tasks.refresh_habits_batch_task",
          (INSIGHTS,), lambda ctx: habit_tasks.refresh_habits_batch_task.delay([ctx.alice.pk]),
          computed, reset=reset),
    Place("nightly habits refresh", "beat", "insights.habits.tasks.refresh_stale_habits_task",
          (INSIGHTS,), lambda ctx: habit_tasks.refresh_stale_habits_task.delay(), computed,
          reset=reset),
    # Predicted shopping list (predictions), and the shared model (model_improvement)
    Place("shopping list page", "view", "forecasts:index", (PREDICTIONS,),
          get("forecasts:index"), served),
    Place("add an own item", "view", "forecasts:add_item", (PREDICTIONS,),
          post("forecasts:add_item", {"free_text": "Candles", "quantity": "1"}), served),
    Place("tick a list item", "view", "forecasts:item_action", (PREDICTIONS,),
          list_item_action, served),
    Place("product search", "view", "forecasts:search", (PREDICTIONS,),
          get("forecasts:search", "?q=mi"), served),
    Place("refresh the list", "view", "forecasts:refresh", (PREDICTIONS,),
          post("forecasts:refresh"), served),
    Place("list as text", "view", "forecasts:share", (PREDICTIONS,), get("forecasts:share"),
          served),
    Place("list as CSV", "view", "forecasts:export", (PREDICTIONS,), get("forecasts:export"),
          served),
    Place("printable list", "view", "forecasts:print", (PREDICTIONS,), get("forecasts:print"),
          served),
    Place("GET /api/v1/me/shopping-list", "api", "shopping-list", (PREDICTIONS,),
          get("shopping-list"), served),
    Place("POST /api/v1/me/shopping-list/items", "api", "shopping-list-items", (PREDICTIONS,),
          post_json("shopping-list-items", {"free_text": "Candles"}), served),
    Place("POST /api/v1/me/shopping-list/items/{id}/actions", "api",
          "shopping-list-item-actions", (PREDICTIONS,), api_list_item_action, served),
    Place("refresh_forecasts_task", "task", "insights.forecasts.tasks.refresh_forecasts_task",
          (PREDICTIONS, MODEL_IMPROVEMENT),
          lambda ctx: forecast_tasks.refresh_forecasts_task.delay([ctx.alice.pk]), computed,
          needs=(PREDICTIONS,), reset=reset),
    Place("nightly forecasts refresh", "beat",
          "insights.forecasts.tasks.refresh_stale_forecasts_task", (PREDICTIONS,),
          lambda ctx: forecast_tasks.refresh_stale_forecasts_task.delay(), computed, reset=reset),
    Place("nightly model fit", "beat", "insights.forecasts.tasks.fit_forecast_model_task",
          (MODEL_IMPROVEMENT,), lambda ctx: forecast_tasks.fit_forecast_model_task.delay(),
          computed, reset=reset),
    Place("manage.py export_predictions", "command",
          "insights.forecasts.management.commands.export_predictions",
          (PREDICTIONS, MODEL_IMPROVEMENT), export_predictions_command, exported_for_alice,
          reset=reset),
    # Pantry and reminders (pantry), e-mail (email)
    Place("pantry page", "view", "pantry:index", (PANTRY,), get("pantry:index"), served),
    Place("pantry item action", "view", "pantry:item_action", (PANTRY,), pantry_item_action,
          served),
    Place("reminder settings", "view", "pantry:settings", (PANTRY,),
          post("pantry:settings", {"due_soon_days": "3", "quiet_hours_start": "21:00",
                                   "quiet_hours_end": "08:00"}), served),
    Place("make a calendar link", "view", "pantry:calendar", (PANTRY,),
          post("pantry:calendar", {"action": "regenerate"}), served),
    Place("calendar feed", "view", "pantry:calendar_feed", (PANTRY,), calendar_feed, served),
    Place("notifications page", "view", "pantry:notifications", (PANTRY,),
          get("pantry:notifications"), served),
    Place("read a notification", "view", "pantry:notification_read", (PANTRY,),
          read_notification, served),
    Place("read all notifications", "view", "pantry:notifications_read_all", (PANTRY,),
          read_all_notifications, served),
    Place("notification bell on every page", "view", "purchases:history", (PANTRY,),
          bell_on_history_page, bell_rings),
    Place("GET /api/v1/me/pantry", "api", "api-my-pantry", (PANTRY,), get("api-my-pantry"),
          served),
    Place("build_pantry_task", "task", "insights.pantry.tasks.build_pantry_task", (PANTRY,),
          lambda ctx: pantry_tasks.build_pantry_task.delay(ctx.alice.pk), computed, reset=reset),
    Place("hourly reminders and digest", "beat",
          "insights.pantry.tasks.send_due_reminders_task", (PANTRY, EMAIL),
          lambda ctx: pantry_tasks.send_due_reminders_task.delay(), computed,
          needs=(PANTRY, EMAIL), reset=reset_notifications),
    Place("one chunk of the hourly reminders", "task",
          "insights.pantry.tasks.send_reminders_task", (PANTRY, EMAIL),
          lambda ctx: pantry_tasks.send_reminders_task.delay([ctx.alice.pk]), computed,
          needs=(PANTRY, EMAIL), reset=reset_notifications),
    Place("pantry digest e-mail", "email", "insights.pantry.services:send_digest", (EMAIL,),
          send_digest_directly, computed, needs=(PANTRY,), reset=reset),
    # Data rights: the export's ready notice in the app (pantry) and by e-mail (email).
    Place("export ready: notice and e-mail", "task", "accounts.tasks.build_export_task",
          (PANTRY, EMAIL), request_an_export, computed, reset=reset),
    Place("export-ready e-mail", "email", "accounts.data_rights:_announce", (EMAIL,),
          request_an_export, computed, reset=reset),
    # New receipts: ingestion queues refresh_shopper_task, whose signal each app answers.
    Place("order ingestion → refresh_shopper_task", "ingestion",
          "insights.purchases.tasks.refresh_shopper_task", (INSIGHTS, PREDICTIONS, PANTRY),
          lambda ctx: ctx.world.shop_today(ctx.world.alice), computed, reset=reset),
]  # fmt: skip

# Pages that process for no purpose, or only record a decision, with the reason.
EXEMPT_URLS = {
    "accounts:consents": "records the shopper's decision; processes nothing for the purpose",
    "pantry:unsubscribe": "the one-click e-mail opt-out: it can only withdraw `email`",
}
# Tasks that process for no purpose, with the reason.
EXEMPT_TASKS: dict[str, str] = {
    "accounts.tasks.apply_retention_task": (
        "nightly retention deletes or anonymises what is past its period; it computes and "
        "sends nothing for a purpose"
    ),
}
# Code that sends e-mail for no purpose (a service the shopper asked for), with the reason.
EXEMPT_MAIL: dict[str, str] = {}
# Functions that only build a message another function sends: the sender is the row.
BUILT_FOR = {"insights.pantry.services:_digest_message": "insights.pantry.services:send_digest"}

CELLS = [(purpose, place) for place in PLACES for purpose in place.purposes]


def test_the_matrix_covers_every_purpose_in_every_kind_of_place():
    covered = {purpose for purpose, _ in CELLS}
    kinds = {place.kind for place in PLACES}
    assert covered == set(SWITCHABLE)
    assert kinds == {"view", "api", "task", "beat", "email", "command", "ingestion"}
    print(f"\nconsent enforcement matrix: {len(CELLS)} purpose × place cells over "
          f"{len(PLACES)} places and {len(covered)} purposes")  # fmt: skip


# --- The cells ----------------------------------------------------------------------------


@pytest.fixture
def ctx(client, alice, charlie, monkeypatch, tmp_path, settings):
    settings.REFRESH_DEBOUNCE_SECONDS = 0
    fits = use_fake_model(monkeypatch)
    with time_machine.travel(NOW, tick=False), eager_celery():
        world = World(Catalog.create(), alice, charlie)
        world.weekly_history(world.alice)
        world.weekly_history(world.charlie)
        client.force_login(alice)
        mail.outbox.clear()
        yield Ctx(world=world, client=client, fits=fits, tmp_path=tmp_path)


def _exercise(ctx: Ctx, place: Place, purpose: str) -> bool:
    if place.reset is not None:
        place.reset(ctx, purpose)
    result = place.run(ctx)
    return place.processed(ctx, result, purpose)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("purpose", "place"), CELLS, ids=[f"{purpose}-{place.name}" for purpose, place in CELLS]
)
def test_a_place_processes_nothing_for_a_purpose_without_its_consent(
    ctx, purpose, place, monkeypatch
):
    alice, world = ctx.alice, ctx.world
    if not place.real_habits:
        monkeypatch.setattr(habit_services, "analysis", QuickHabits())
    # Charlie grants what the place needs; more would only add work (habits are slow).
    world.grant(world.charlie.user, purpose, *place.needs)
    others = [p for p in place.needs if p != purpose]
    world.grant(alice, *others)

    assert not _exercise(ctx, place, purpose), "processed before any grant"
    assert derived(purpose, alice) == {}
    if purpose == EMAIL:
        assert mails_to(alice) == 0

    world.grant(alice, purpose)
    assert _exercise(ctx, place, purpose), "the positive control: granted, it must process"

    world.withdraw(alice, purpose)
    assert derived(purpose, alice) == {}, "derived data outlived the withdrawal"
    mail.outbox.clear()
    assert not _exercise(ctx, place, purpose), "processed after the withdrawal"
    assert derived(purpose, alice) == {}
    if purpose == EMAIL:
        assert mails_to(alice) == 0
    # Charlie granted everything: his derived data is untouched by Alice's withdrawal.
    if purpose in (INSIGHTS, PREDICTIONS, PANTRY):
        assert derived(purpose, world.charlie.user) != {}


# --- Cross-shopper signal: the real model -------------------------------------------------


@pytest.mark.django_db
def test_a_shopper_without_model_improvement_changes_nothing_in_the_fitted_model(
    alice, charlie, settings
):
    """The real model, fitted by the nightly task before and after Alice shops a lot
    (without the grant): the stored model is the same, as if her receipts did not exist."""
    settings.REFRESH_DEBOUNCE_SECONDS = 0
    forecast_services._payload_cache.clear()
    with time_machine.travel(NOW, tick=False), eager_celery():
        world = World(Catalog.create(), alice, charlie)
        world.weekly_history(world.charlie)
        world.grant(charlie, MODEL_IMPROVEMENT)
        before = _stored_payload(forecast_tasks.fit_forecast_model_task.delay().get())
        c = world.catalog
        world.ingest(
            [order(world.alice.card, NOW - pd.Timedelta(days=3 * k), [c.coffee, c.cheese])
             for k in range(1, 25)]
        )  # fmt: skip
        after = _stored_payload(forecast_tasks.fit_forecast_model_task.delay().get())

        assert after["n_contributors"] == before["n_contributors"] == 1
        pd.testing.assert_frame_equal(after["popular"], before["popular"])
        pd.testing.assert_frame_equal(after["rules"], before["rules"])
        assert after["summary"] == before["summary"]
        assert list(after["model"].params) == list(before["model"].params)
        assert alice.customer.pk not in forecast_services.contributor_customer_ids()
        world.grant(alice, MODEL_IMPROVEMENT)
        assert alice.customer.pk in forecast_services.contributor_customer_ids()


def _stored_payload(pk: int) -> dict:
    stored = ForecastModel.objects.get(pk=pk)
    payload = pickle.loads(bytes(stored.payload))  # noqa: S301  (written by the test's task)
    return {
        "n_contributors": stored.n_contributors,
        "popular": payload["popular"].reset_index(drop=True),
        "rules": payload["rules"].reset_index(drop=True),
        # As stored for staff (NaN as null), so equal summaries compare equal.
        "summary": stored.summary,
        "model": payload["model"],
    }


# --- Withdrawal through the consent page: gone within that one request ----------------------


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", [INSIGHTS, PREDICTIONS, PANTRY, MODEL_IMPROVEMENT])
def test_withdrawing_on_the_consent_page_deletes_the_derived_data_in_that_request(ctx, purpose):
    alice = ctx.alice
    ctx.world.grant(alice, *SWITCHABLE)
    forecast_tasks.fit_forecast_model_task.delay()
    assert derived(purpose, alice) != {}
    response = ctx.client.post(reverse("accounts:consents"), {"purpose": purpose, "granted": "0"})
    assert response.status_code == 302
    assert derived(purpose, alice) == {}


# --- Meta-tests: nothing that may process for a purpose is missing from the table -----------

PURPOSE_APPS = ("insights.habits", "insights.forecasts", "insights.pantry")
PURPOSE_WORDS = ("is_allowed(", "allowed_user_ids(", *(f"({p.upper()}" for p in SWITCHABLE))


def _patterns(resolver: URLResolver, namespace: str = "") -> list[tuple[str, object]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found.extend(_patterns(entry, inner))
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((f"{namespace}{entry.name}", entry.callback))
    return found


def _view_code(callback: object) -> tuple[str, str]:
    """(module, source) of a URL's view: the class for class-based views."""
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
    view = inspect.unwrap(view) if inspect.isfunction(view) else view
    try:
        source = inspect.getsource(view)
    except (OSError, TypeError):
        source = ""
    return view.__module__, source


def test_every_url_that_may_process_for_a_purpose_is_in_the_matrix():
    names = {place.target for place in PLACES if place.kind in ("view", "api")}
    missing = []
    for name, callback in _patterns(get_resolver()):
        module, source = _view_code(callback)
        uses_purpose = module.startswith(PURPOSE_APPS) or any(w in source for w in PURPOSE_WORDS)
        if uses_purpose and name not in names and name not in EXEMPT_URLS:
            missing.append(f"{name} ({module})")
    assert missing == [], "add a row to PLACES (or a reasoned exemption) for each"


def _our_tasks() -> set[str]:
    """Every task of every installed app (tasks register when their module is imported)."""
    for config in apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.tasks") is not None:
            importlib.import_module(f"{config.name}.tasks")
    return {name for name in celery_app.tasks if not name.startswith("celery.")}


def test_every_row_of_the_matrix_names_a_place_that_exists():
    urls = {name for name, _ in _patterns(get_resolver())}
    tasks = _our_tasks()
    for place in PLACES:
        if place.kind in ("view", "api"):
            assert place.target in urls, place
        elif place.kind in ("task", "beat", "ingestion"):
            assert place.target in tasks, place
    for name in EXEMPT_URLS:
        assert name in urls, name


def test_every_task_is_in_the_matrix_or_exempt_with_a_reason():
    ours = _our_tasks()
    assert len(ours) >= 9  # the discovery found the apps' tasks
    covered = {place.target for place in PLACES if place.kind in ("task", "beat", "ingestion")}
    assert sorted(ours - covered - set(EXEMPT_TASKS)) == []
    assert all(reason.strip() for reason in EXEMPT_TASKS.values())


def test_every_beat_job_is_a_beat_row_of_the_matrix():
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    rows = {place.target for place in PLACES if place.kind == "beat"}
    assert beat - set(EXEMPT_TASKS) <= rows
    assert rows <= beat


MAIL_CALLS = {"send_mail", "send_mass_mail", "mail_admins", "mail_managers", "email_user",
              "EmailMessage", "EmailMultiAlternatives"}  # fmt: skip


def _mail_senders() -> set[str]:
    """ "module:function" of every function in insights/ and accounts/ that sends e-mail."""
    senders = set()
    for path in [
        *ROOT.joinpath("insights").rglob("*.py"),
        *ROOT.joinpath("accounts").rglob("*.py"),
    ]:
        if "migrations" in path.parts or "management" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(node):
                if isinstance(call, ast.Call):
                    func = call.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in MAIL_CALLS:
                        senders.add(f"{module}:{node.name}")
    return senders


def test_every_function_that_sends_email_is_in_the_matrix_or_exempt():
    covered = {place.target for place in PLACES if place.kind == "email"}
    senders = {BUILT_FOR.get(sender, sender) for sender in _mail_senders()}
    assert sorted(senders - covered - set(EXEMPT_MAIL)) == []
    assert covered <= senders


# --- A withdrawal that lands while a place computes ------------------------------------------


@pytest.mark.django_db
def test_a_withdrawal_while_habits_are_analysed_leaves_no_summary(ctx, monkeypatch):
    """The task checked consent before the analysis; the rows are written after it."""
    alice, world = ctx.alice, ctx.world
    world.grant(alice, INSIGHTS)
    habit_services.delete_habits(user=alice)
    real = habit_services.analysis.payloads_many

    def withdrawing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if INSIGHTS in world.granted(alice):
            world.withdraw(alice, INSIGHTS)
        return real(*args, **kwargs)

    monkeypatch.setattr(habit_services.analysis, "payloads_many", withdrawing)
    assert habit_tasks.refresh_habits_task.delay(alice.pk).get() == "refreshed"
    assert derived(INSIGHTS, alice) == {}


@pytest.mark.django_db
def test_a_withdrawal_while_the_list_is_computed_leaves_no_forecast(ctx, monkeypatch):
    alice, world = ctx.alice, ctx.world
    world.grant(alice, PREDICTIONS)
    forecast_services.delete_predictions(user=alice)
    model, rules = forecast_services._model_api()
    real = model.predict_with_trips

    class Withdrawing:
        def __getattr__(self, name: str) -> object:
            return getattr(model, name)

        @staticmethod
        def predict_with_trips(*args, **kwargs):  # noqa: ANN002, ANN003, ANN205
            if PREDICTIONS in world.granted(alice):
                world.withdraw(alice, PREDICTIONS)
            return real(*args, **kwargs)

    monkeypatch.setattr(forecast_services, "_model_api", lambda: (Withdrawing(), rules))
    forecast_tasks.refresh_forecasts_task.delay([alice.pk])
    assert derived(PREDICTIONS, alice) == {}


@pytest.mark.django_db
def test_a_pantry_build_that_passed_its_check_before_a_withdrawal_builds_nothing(ctx):
    alice, world = ctx.alice, ctx.world
    world.grant(alice, PANTRY)
    world.withdraw(alice, PANTRY)
    # What a build task that checked consent just before the withdrawal goes on to do:
    assert pantry_services.build_pantry(user=alice) == 0
    assert derived(PANTRY, alice) == {}


# Template tags of the purpose apps run on pages of any app: each is read by a row.
TEMPLATE_TAGS = {"pantry_unread_count": "notification bell on every page"}


def test_every_template_tag_of_a_purpose_app_is_in_the_matrix():
    found = set()
    for app in PURPOSE_APPS:
        package = ROOT.joinpath(*app.split("."), "templatetags")
        for path in package.glob("*.py") if package.exists() else []:
            if path.stem == "__init__":
                continue
            library = importlib.import_module(f"{app}.templatetags.{path.stem}").register
            found |= set(library.tags) | set(library.filters)
    assert found, "the pantry's bell tag at least"
    assert sorted(found - set(TEMPLATE_TAGS)) == []
    assert set(TEMPLATE_TAGS.values()) <= {place.name for place in PLACES}
