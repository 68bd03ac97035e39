"""Every route in the URLconf, asked by each kind of caller, answers with the security headers.

The routes come from the URLconf itself, so a new page or endpoint is probed without anyone
remembering to add it. A route with path parameters is filled from FILL with a real object
of Alice's (so her own pages answer with her data, the case that matters for caching), or
from the generic admin rule; one that is neither fails the test until it is filled here or
listed in EXEMPT with a reason. Callers: a visitor, Alice (the owner), staff on staff
pages, and the store's system (API key) on the API.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import data_rights
from accounts.models import ConsentEvent, DataExport, User
from insights.api.models import IntegrationClient, Scope
from insights.forecasts.models import ListItem
from insights.habits.models import HabitHighlight
from insights.pantry.models import Notification, PantryItem, PantrySettings
from insights.pantry.services import unsubscribe_token
from insights.purchases.models import Order
from tests.accounts.data_rights_helpers import fill_everything

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full route string (as `ResolverMatch.route` gives it) and name."""

    route: str
    name: str | None

    @property
    def params(self) -> list[str]:
        found = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", self.route)
        return [converter or group for converter, group in found]


def _walk(patterns: list, prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield Route(prefix + str(pattern.pattern), name)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


# --- How each route's parameters are filled --------------------------------------------------


@dataclass
class World:
    alice: User
    staff: User
    api_key: str


# Route name -> {parameter: value from the world}. Values are Alice's own objects.
FILL: dict[str, dict[str, Callable[[World], object]]] = {
    "accounts:data_export_status": {"pk": lambda w: _ready_export(w.alice)},
    "accounts:data_export_download": {"pk": lambda w: _ready_export(w.alice)},
    "accounts:password_reset_confirm": {
        "uidb64": lambda w: urlsafe_base64_encode(force_bytes(w.alice.pk)),
        "token": lambda w: default_token_generator.make_token(w.alice),
    },
    "privacy:decision": {"receipt_id": lambda w: _receipt(w.alice)},
    "privacy:receipt": {"receipt_id": lambda w: _receipt(w.alice)},
    "purchases:order": {"order_id": lambda w: Order.objects.filter(customer__user=w.alice)[0].pk},
    "habits:dismiss": {"highlight_id": lambda w: HabitHighlight.objects.filter(user=w.alice)[0].pk},
    "forecasts:item_action": {"pk": lambda w: _list_item(w.alice)},
    "pantry:item_action": {
        "pk": lambda w: PantryItem.objects.filter(user=w.alice)[0].pk,
        "action": lambda w: "used",
    },
    "pantry:calendar_feed": {
        "token": lambda w: PantrySettings.objects.get(user=w.alice).calendar_token
    },
    "pantry:notification_read": {"pk": lambda w: Notification.objects.filter(user=w.alice)[0].pk},
    "pantry:unsubscribe": {"token": lambda w: unsubscribe_token(w.alice)},
    "api-customer-consents": {"customer_ref": lambda w: f"loyalty_card:CARD-{w.alice.pk}"},
    "api-me-order": {"pk": lambda w: Order.objects.filter(customer__user=w.alice)[0].pk},
    "shopping-list-item-actions": {"pk": lambda w: _list_item(w.alice)},
    "admin:view_on_site": {
        "content_type_id": lambda w: ContentType.objects.get_for_model(User).pk,
        "object_id": lambda w: w.alice.pk,
    },
    "admin:auth_user_password_change": {"id": lambda w: w.alice.pk},
    "admin:app_list": {"app_label": lambda w: "accounts"},
}

# Routes not probed, each with the reason. Empty today: every route is probed.
EXEMPT: dict[str, str] = {}

# Where a page may relax the strict policy, and why; anything else must not.
INLINE_STYLE_ALLOWED = {"api-docs": "Swagger UI sets style attributes from its own script"}


def _ready_export(user: User) -> int:
    export = DataExport.objects.filter(user=user, status=DataExport.Status.READY).first()
    if export is None:
        export, _ = data_rights.request_export(user=user, enqueue=False)
        data_rights.build_export(export_id=export.pk)
    return export.pk


def _receipt(user: User) -> object:
    return ConsentEvent.objects.filter(user=user).values_list("receipt_id", flat=True)[0]


def _list_item(user: User) -> int:
    return ListItem.objects.filter(shopping_list__user=user)[0].pk


def _admin_fill(route: Route) -> dict[str, Callable[[World], object]] | None:
    """Admin object pages: the first row of that model, or 0 when the table is empty."""
    match = re.match(r"admin/(\w+)/(\w+)/<path:object_id>/", route.route)
    if match is None or route.params != ["object_id"]:
        if route.route == "admin/(?P<url>.*)$":
            return {"url": lambda w: "no-such-page/"}
        return None
    model = apps.get_model(match.group(1), match.group(2))
    return {"object_id": lambda w: model._default_manager.values_list("pk", flat=True).first() or 0}


def _fill_for(route: Route) -> dict[str, Callable[[World], object]] | None:
    if not route.params:
        return {}
    if route.name in FILL:
        return FILL[route.name]
    return _admin_fill(route)


def _url(route: Route, values: dict[str, object]) -> str:
    def value(name: str) -> str:
        return str(values[name])

    url = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", lambda m: value(m.group(1)), route.route)
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1)), url)
    return "/" + url.replace("^", "").replace("$", "")


# --- The probes ------------------------------------------------------------------------------


@pytest.fixture
def world(alice, django_capture_on_commit_callbacks) -> World:
    with django_capture_on_commit_callbacks(execute=False):
        fill_everything(alice)
    staff = User.objects.create_superuser("root@example.com", "a staff passphrase, long")
    client = IntegrationClient.objects.create(name="Store systems", scopes=list(Scope.values))
    key = client.rotate_key()
    client.save()
    return World(alice=alice, staff=staff, api_key=key)


def _callers(route: Route, world: World) -> Iterator[tuple[str, Client]]:
    yield "visitor", Client()
    owner = Client()
    owner.force_login(world.alice)
    yield "owner", owner
    if route.route.startswith(("admin/", "privacy/staff/")):
        staff = Client()
        staff.force_login(world.staff)
        yield "staff", staff
    if route.route.startswith("api/"):
        yield "store system", Client(HTTP_AUTHORIZATION=f"Api-Key {world.api_key}")


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def _header_problems(route: Route, response: object) -> list[str]:
    problems = []
    csp = _directives(response.get("Content-Security-Policy", ""))
    for directive, expected in [
        ("default-src", ["'self'"]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'none'"]),
        ("frame-ancestors", ["'none'"]),
        ("form-action", ["'self'"]),
        ("script-src", ["'self'"]),
    ]:
        if csp.get(directive) != expected:
            problems.append(f"CSP {directive} is {csp.get(directive)}")
    styles = csp.get("style-src", [])
    if styles != ["'self'"] and not (
        route.name in INLINE_STYLE_ALLOWED and styles == ["'self'", "'unsafe-inline'"]
    ):
        problems.append(f"CSP style-src is {styles}")
    expected_headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    }
    for header, value in expected_headers.items():
        if response.get(header) != value:
            problems.append(f"{header} is {response.get(header)!r}")
    cache = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    if not {"no-store", "private"} <= cache:
        problems.append(f"Cache-Control is {response.get('Cache-Control')!r}")
    for name, cookie in response.cookies.items():
        if cookie.value == "" and cookie["max-age"] == 0:
            continue  # a deletion
        if not name.startswith("__Host-") or cookie["domain"] or cookie["path"] != "/":
            problems.append(f"cookie {name} is not a __Host- cookie")
        if not cookie["secure"] or not cookie["httponly"] or cookie["samesite"] != "Lax":
            problems.append(f"cookie {name} lacks Secure, HttpOnly or SameSite=Lax")
    return problems


def test_every_route_answers_every_caller_with_the_security_headers(world):
    routes = all_routes()
    unfilled = [
        r.route for r in routes if r.name not in EXEMPT and _fill_for(r) is None and r.params
    ]
    assert unfilled == [], "fill these routes' parameters in FILL, or list them in EXEMPT"

    problems: dict[str, list[str]] = {}
    probes = 0
    for route in routes:
        if route.name in EXEMPT:
            continue
        values = {name: fill(world) for name, fill in _fill_for(route).items()}
        url = _url(route, values)
        reached = resolve(url).route.replace("^", "")
        assert reached == route.route.replace("^", ""), f"{url} does not reach {route.route}"
        for caller, client in _callers(route, world):
            response = client.get(url, secure=True)
            probes += 1
            found = _header_problems(route, response)
            if response.status_code >= 500:
                found.append(f"status {response.status_code}")
            if found:
                problems[f"{caller} GET {url} ({response.status_code})"] = found
    assert problems == {}
    assert probes >= 2 * len(routes)


def test_the_owner_reaches_her_own_objects_on_the_filled_routes(world):
    """The fills are real: Alice's own pages answer her (not a 404 that proves nothing)."""
    owner = Client()
    owner.force_login(world.alice)
    not_found = []
    for route in all_routes():
        if route.name not in FILL or route.route.startswith(("admin/", "api/v1/customers/")):
            continue
        values = {name: fill(world) for name, fill in FILL[route.name].items()}
        url = _url(route, values)
        response = owner.get(url, secure=True)
        if response.status_code == 404:
            not_found.append(url)
    assert not_found == []


def test_exemptions_and_fills_name_routes_that_exist():
    names = {r.name for r in all_routes()}
    assert set(FILL) - names == set()
    assert set(EXEMPT) - names == set()
    assert set(INLINE_STYLE_ALLOWED) - names == set()


def test_the_walk_sees_every_app_and_the_admin():
    routes = [r.route for r in all_routes()]
    for prefix in ["accounts/", "privacy/", "history/", "habits/", "list/", "pantry/", "api/v1/"]:
        assert any(route.startswith(prefix) for route in routes), prefix
    assert sum(route.startswith("admin/") for route in routes) > 50


def test_static_files_keep_their_long_caching(settings):
    """Static files carry nothing personal; WhiteNoise answers them before NoStoreMiddleware."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = Client().get("/static/css/accounts.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert response["X-Content-Type-Options"] == "nosniff"
