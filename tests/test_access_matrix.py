"""The access matrix: every URL that takes an object id × every method × other shoppers' ids.

Alice (a shopper with every consent and one of everything) and the other people who may
hold a URL — someone not logged in, a catalog admin (staff, catalog permissions only) and
a store system's API key — try every object of Bob and Charlie through every route that
takes an id, with GET, POST, PUT, PATCH and DELETE, and again with `HX-Request: true`
where the view's module answers htmx differently. A probe passes when:

- the answer refuses: 404 or 403; 405 for a method the route never accepts (the `Allow`
  header does not name it); for someone not logged in, the redirect to the login page
  (or 401 from an API-key endpoint); for a non-staff login in the admin, the redirect to
  the admin's login;
- the answer is the same as for an id that does not exist, so a refusal does not tell
  whether the object exists (a 403 for Bob's order beside a 404 for no order would);
- nothing of Bob's or Charlie's is in it: each of them has a canary (`CANARYBOB`) in every
  text they own, searched for in the body and headers;
- nothing changed: every row Bob and Charlie own (found by following foreign keys to their
  login, `tests/access.py`) hashes the same after the route's probes as before, and no
  table gained or lost a row.

Each route has a positive control first: its owner (or the superuser, in the admin) gets a
success with the same URL and body, and where the page shows data, sees their own canary.
So a typo in a URL or a body cannot pass as a refusal.

Why 405 is a refusal: Django answers it from the view's decorator before the object is
looked up, the same for every id, so it says nothing about Bob's objects; the oracle check
above makes sure of that.

The meta-test fails when a route with a path parameter is neither probed nor exempt with a
reason. `pytest tests/test_access_matrix.py -s` prints the number of probes.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from accounts.models import User
from insights.api.models import ConsentRead, Scope
from insights.catalog.roles import CATALOG_GROUP, ensure_catalog_group
from insights.pantry import services as pantry_services
from insights.pantry.views import ACTIONS as PANTRY_ACTIONS
from insights.purchases.models import Order
from tests.access import Planted, built_once, owner_path, plant, snapshot
from tests.accounts.factories import make_api_client
from tests.factories import UserFactory

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MISSING_ID = 10**9

# Who probes, by the kind of route.
ALICE, ANONYMOUS, CATALOG_ADMIN, STORE = "alice", "anonymous", "catalog admin", "store system"
ATTACKERS = {
    "page": (ALICE, ANONYMOUS, CATALOG_ADMIN),
    "api": (ALICE, ANONYMOUS, CATALOG_ADMIN, STORE),
    "store": (ALICE, ANONYMOUS, CATALOG_ADMIN, STORE),
    "capability": (ALICE, ANONYMOUS),
    "admin": (ALICE, ANONYMOUS, CATALOG_ADMIN),
}


# --- The world: three shoppers and the other actors, built once for the module ------------


@dataclass
class World:
    alice: Planted
    victims: list[Planted]
    catalog_admin: User
    superuser: User
    store_key: str  # ingest and link scopes: every scope but reading consents
    consents_key: str
    export_root: object
    unsubscribe_tokens: dict[int, str] = field(default_factory=dict)
    calendar_tokens: dict[int, str] = field(default_factory=dict)

    def victim_pks(self) -> list[int]:
        return [v.user.pk for v in self.victims]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """Built once for the module (`built_once`): Alice, Bob, Charlie and the other actors."""
    export_root = tmp_path_factory.mktemp("access-exports")
    with built_once(django_db_blocker, export_root):
        alice, bob, charlie = (plant(tag) for tag in ("alice", "bob", "charlie"))
        ensure_catalog_group()
        catalog_admin = UserFactory(email="catalogue@example.com", is_staff=True)
        catalog_admin.groups.add(Group.objects.get(name=CATALOG_GROUP))
        superuser = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
        _till, store_key = make_api_client(name="till", scopes=[Scope.INGEST, Scope.LINK])
        crm, consents_key = make_api_client(name="crm", scopes=[Scope.CONSENTS])
        built = World(
            alice, [bob, charlie], catalog_admin, superuser, store_key, consents_key, export_root
        )
        for shopper in (alice, bob, charlie):
            ConsentRead.objects.create(client=crm, customer=shopper.user.customer)
            built.unsubscribe_tokens[shopper.user.pk] = pantry_services.unsubscribe_token(
                shopper.user
            )
            built.calendar_tokens[shopper.user.pk] = pantry_services.regenerate_calendar_token(
                user=shopper.user
            ).calendar_token
        yield built


# --- Routes -------------------------------------------------------------------------------


def _join(route1: str, route2: str) -> str:
    # As Django joins a resolver's route with its pattern's (ResolverMatch.route).
    return route2 if not route1 else route1 + route2.removeprefix("^")


def _patterns(resolver: URLResolver, prefix: str = "", ns: str = "") -> list[tuple[str, str]]:
    found = []
    for entry in resolver.url_patterns:
        route = _join(prefix, str(entry.pattern))
        if isinstance(entry, URLResolver):
            inner = f"{ns}{entry.namespace}:" if entry.namespace else ns
            found.extend(_patterns(entry, route, inner))
        elif isinstance(entry, URLPattern):
            found.append((route, f"{ns}{entry.name}" if entry.name else ""))
    return found


Args = tuple


@dataclass(frozen=True)
class Route:
    """One URL shape that takes an id, and how to probe it."""

    label: str
    kind: str  # page, api, store (API-key endpoint), capability (secret URL), admin
    url: Callable[[Args], str]
    targets: Callable[[World, Planted], list[Args]]  # what may be tried of a victim
    missing: Args  # ids that match no object
    own: Callable[[World], Args]  # what the control actor may open
    control: str = "GET"  # the method that succeeds for the control actor
    body: dict = field(default_factory=dict)
    shows: str = ""  # text the control's answer must contain; {canary} is the owner's
    htmx: bool = False  # the view's module answers htmx requests differently
    # The control's acceptable answers when not every success: the consent logs refuse
    # deletion to everyone, so the superuser's 403 shows the URL reached the delete view.
    control_statuses: tuple[int, ...] = ()

    @property
    def pattern(self) -> str:
        return resolve(self.url(self.missing)).route


def by_name(name: str, *extra: object) -> Callable[[Args], str]:
    return lambda args: reverse(name, args=[*args, *extra])


def of(kind: str, *, first_only: bool = False) -> Callable[[World, Planted], list[Args]]:
    def targets(world: World, shopper: Planted) -> list[Args]:
        ids = shopper.ids[kind][:1] if first_only else shopper.ids[kind]
        return [(i,) for i in ids]

    return targets


def alices(kind: str) -> Callable[[World], Args]:
    return lambda world: (world.alice.first(kind),)


def _module_uses_htmx(name: str) -> bool:
    callback = resolve(reverse(name, args=_sample_args(name))).func
    module = sys.modules[getattr(callback, "__module__", "")]
    return "request.htmx" in inspect.getsource(module)


def _sample_args(name: str) -> list[object]:
    pattern = next(p for p in _patterns(get_resolver()) if p[1] == name)[0]
    samples = {"int": 1, "uuid": uuid.uuid4(), "slug": "used", "str": "x", "path": "1"}
    return [samples[c] for c in re.findall(r"<(\w+):", pattern)]


def page(label: str, name: str, kind: str, **kwargs: object) -> Route:
    extra = kwargs.pop("extra", ())
    return Route(
        label=label,
        kind="page",
        url=by_name(name, *extra),
        targets=of(kind, first_only=kwargs.pop("first_only", False)),
        missing=(uuid.UUID(int=1),) if kind == "receipt" else (MISSING_ID,),
        own=alices(kind),
        htmx=_module_uses_htmx(name),
        **kwargs,
    )


def _pantry_routes() -> list[Route]:
    body = {"share": "half", "best_before": str(timezone.localdate() + timedelta(days=5))}
    return [
        page(f"pantry item: {action}", "pantry:item_action", "pantry_item", extra=(action,),
             control="POST", body=body, first_only=True)
        for action in sorted(PANTRY_ACTIONS)
    ]  # fmt: skip


def _forged_unsubscribe_tokens(world: World, shopper: Planted) -> list[Args]:
    """What Alice can make of Bob's id: his payload signed with a guessed key, or unsigned."""
    payload = {"u": shopper.user.pk}
    forged = signing.dumps(payload, key="not-the-secret", salt=pantry_services.UNSUBSCRIBE_SALT)
    unsigned = signing.b64_encode(json.dumps(payload).encode()).decode()
    return [(forged,), (unsigned,), (f"{unsigned}:{forged.rsplit(':', 2)[-2]}:x",)]


def _guessed_calendar_tokens(world: World, shopper: Planted) -> list[Args]:
    """Guesses from what Alice may know of Bob: his id, his e-mail, his card."""
    return [(str(shopper.user.pk),), (shopper.user.email,), (shopper.card,)]


def _shopper_routes() -> list[Route]:
    return [
        page("export progress", "accounts:data_export_status", "export"),
        page("export download", "accounts:data_export_download", "export",
             shows="{canary}'s"),
        page("consent decision", "privacy:decision", "receipt"),
        page("consent receipt", "privacy:receipt", "receipt", shows="{email}"),
        page("order", "purchases:order", "order", shows="Saffron {canary}"),
        page("dismiss a highlight", "habits:dismiss", "highlight", control="POST"),
        page("list item action", "forecasts:item_action", "list_item", control="POST",
             body={"action": "tick"}),
        *_pantry_routes(),
        page("read a notification", "pantry:notification_read", "notification",
             control="POST"),
        Route("GET /api/v1/me/orders/{id}", "api", by_name("api-me-order"), of("order"),
              (MISSING_ID,), alices("order"), shows="Saffron {canary}"),
        Route("POST /api/v1/me/shopping-list/items/{id}/actions", "api",
              by_name("shopping-list-item-actions"), of("list_item"), (MISSING_ID,),
              alices("list_item"), control="POST", body={"action": "tick"}),
        Route("GET /api/v1/customers/{ref}/consents", "store",
              by_name("api-customer-consents"), of("customer_ref"),
              ("loyalty_card:CARD-NOBODY",),
              lambda world: (world.victims[0].first("customer_ref"),)),
        Route("unsubscribe link", "capability", by_name("pantry:unsubscribe"),
              _forged_unsubscribe_tokens, ("no-such-token",),
              lambda world: (world.unsubscribe_tokens[world.alice.user.pk],)),
        Route("calendar feed", "capability", by_name("pantry:calendar_feed"),
              _guessed_calendar_tokens, ("no-such-token",),
              lambda world: (world.calendar_tokens[world.alice.user.pk],),
              shows="Saffron {canary}"),
    ]  # fmt: skip


# The admin: every URL with an id of every registered model whose rows belong to a shopper.


def _admin_url(prefix: str, pattern: str) -> Callable[[Args], str]:
    def url(args: Args) -> str:
        values = iter(args)
        return "/" + prefix + re.sub(r"<[^>]+>", lambda _m: str(next(values)), pattern)

    return url


def _admin_targets(model: type, path: str) -> Callable[[World, Planted], list[Args]]:
    def targets(world: World, shopper: Planted) -> list[Args]:
        pks = model._default_manager.filter(**{path: shopper.user.pk}).order_by("pk")
        return [(pk,) for pk in pks.values_list("pk", flat=True)[:2]]

    return targets


def _admin_routes() -> tuple[list[Route], dict[str, str]]:
    routes, exempt = [], {}
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        path = owner_path(model)
        for entry in model_admin.urls:
            pattern = str(entry.pattern)
            if "<" not in pattern:
                continue
            if path is None:
                exempt[prefix + pattern] = (
                    "staff-only admin of rows that belong to no shopper (catalog, "
                    "configuration or anonymised records)"
                )
                continue
            targets = _admin_targets(model, path)
            routes.append(
                Route(
                    f"admin {model._meta.label} {pattern}",
                    "admin",
                    _admin_url(prefix, pattern),
                    targets,
                    (MISSING_ID,),
                    lambda world, targets=targets: targets(world, world.victims[0])[0],
                    control_statuses=(200, 403) if pattern.endswith("/delete/") else (),
                )
            )
    routes.append(
        Route(
            "admin view on site",
            "admin",
            _admin_url("admin/", "r/<ct>/<id>/"),
            _view_on_site_targets,
            (MISSING_ID, MISSING_ID),
            lambda world: _view_on_site_targets(world, world.victims[0])[0],
            control="",  # no model has get_absolute_url: the superuser gets a 404 too
        )
    )
    return routes, exempt


def _view_on_site_targets(world: World, shopper: Planted) -> list[Args]:
    user_type = ContentType.objects.get_for_model(User)
    order_type = ContentType.objects.get_for_model(Order)
    return [(user_type.pk, shopper.user.pk), (order_type.pk, shopper.first("order"))]


ADMIN_ROUTES, ADMIN_EXEMPT = _admin_routes()
ROUTES: list[Route] = [*_shopper_routes(), *ADMIN_ROUTES]

EXEMPT: dict[str, str] = {
    "accounts/reset/<uidb64>/<token>/": (
        "Django's own password reset confirmation: without the token mailed to the owner it "
        "renders 'the link is invalid' (200) and neither shows nor changes the account"
    ),
    **{
        route: "the admin's app index: the parameter names an app, not an object"
        for route, name in _patterns(get_resolver())
        if name == "admin:app_list"
    },
    "admin/(?P<url>.*)$": "the admin's catch-all: adds a slash or answers 404, for staff only",
    **ADMIN_EXEMPT,
}


# --- Sending and judging one probe --------------------------------------------------------


def send(
    client: Client, method: str, url: str, body: dict, *, json_body: bool, htmx: bool = False,
    key: str = "",
) -> HttpResponse:  # fmt: skip
    headers = {}
    if htmx:
        headers["HX-Request"] = "true"
    if key:
        headers["Authorization"] = f"Api-Key {key}"
    call = getattr(client, method.lower())
    if method == "GET":
        return call(url, headers=headers)
    if json_body:
        return call(url, json.dumps(body), content_type="application/json", headers=headers)
    if method == "POST":
        return call(url, body, headers=headers)
    return call(
        url, urlencode(body), content_type="application/x-www-form-urlencoded", headers=headers
    )


def content(response: HttpResponse) -> bytes:
    if getattr(response, "streaming", False):
        # The test client closes the file when the iteration ends; closing again here would
        # fire request_finished, which closes the database connection mid-test.
        return b"".join(response.streaming_content)
    return response.content


def refusal_problem(route: Route, actor: str, method: str, url: str, response: HttpResponse) -> str:
    """Why the answer is not an acceptable refusal, or "" when it is one."""
    status = response.status_code
    if status in (403, 404):
        return ""
    if status == 405:
        allowed = {m.strip() for m in response.get("Allow", "").split(",")}
        return "" if method not in allowed else f"405 but Allow names {method}"
    location = response.get("Location", "")
    if status == 302 and route.kind == "admin":
        if actor in (ALICE, ANONYMOUS) and location.startswith(reverse("admin:login")):
            return ""
        # The admin's bare object URL redirects staff to the change page, which is probed.
        if actor == CATALOG_ADMIN and location == f"{url}change/":
            return ""
    login = reverse(django_settings.LOGIN_URL)
    if status == 302 and route.kind == "page" and actor == ANONYMOUS and location.startswith(login):
        return ""
    if status == 401 and route.kind == "store" and actor == ANONYMOUS:
        return ""
    return f"answered {status} {location}".strip()


@dataclass
class Prober:
    world: World
    clients: dict[str, Client]
    failures: list[str] = field(default_factory=list)
    count: int = 0

    def attempt(self, route: Route, actor: str, method: str, args: Args, htmx: bool):  # noqa: ANN201
        key = {STORE: self.world.store_key}.get(actor, "")
        json_body = route.kind in ("api", "store")
        self.count += 1
        response = send(self.clients[actor], method, route.url(args), route.body,
                        json_body=json_body, htmx=htmx, key=key)  # fmt: skip
        return response, content(response)

    def probe(self, route: Route) -> None:
        victims = self.world.victims
        canaries = [v.canary.lower().encode() for v in victims]
        for actor in ATTACKERS[route.kind]:
            for method in METHODS:
                for htmx in (False, True) if route.htmx else (False,):
                    where = f"{route.label}: {actor} {method}{' htmx' if htmx else ''}"
                    baseline, _ = self.attempt(route, actor, method, route.missing, htmx)
                    for victim in victims:
                        for args in route.targets(self.world, victim):
                            response, body = self.attempt(route, actor, method, args, htmx)
                            seen = (body + str(response.headers).encode()).lower()
                            problem = refusal_problem(
                                route, actor, method, route.url(args), response
                            )
                            if not problem and response.status_code != baseline.status_code:
                                problem = (
                                    f"answered {response.status_code} for {victim.canary}'s "
                                    f"object but {baseline.status_code} for a missing one"
                                )
                            leaked = [c.decode() for c in canaries if c in seen]
                            if leaked:
                                problem = "; ".join(filter(None, [problem, f"showed {leaked}"]))
                            if problem:
                                self.failures.append(f"{where} {route.url(args)}: {problem}")


def clients_for(world: World) -> dict[str, Client]:
    clients = {ANONYMOUS: Client(), STORE: Client()}
    for actor, user in (
        (ALICE, world.alice.user),
        (CATALOG_ADMIN, world.catalog_admin),
        ("superuser", world.superuser),
    ):
        clients[actor] = Client()
        clients[actor].force_login(user)
    return clients


def positive_control(route: Route, world: World, clients: dict[str, Client]) -> None:
    """The route works for its rightful user, so the refusals below are about the id."""
    if not route.control:
        return
    args = route.own(world)
    if route.kind == "admin":
        client, key, owner = clients["superuser"], "", world.victims[0]
    elif route.kind == "store":
        client, key, owner = clients[ANONYMOUS], world.consents_key, world.victims[0]
    elif route.kind == "capability":
        client, key, owner = clients[ANONYMOUS], "", world.alice
    else:
        client, key, owner = clients[ALICE], "", world.alice
    response = send(client, route.control, route.url(args), route.body,
                    json_body=route.kind in ("api", "store"), key=key)  # fmt: skip
    body = content(response)
    if route.control_statuses:
        assert response.status_code in route.control_statuses, (route.label, response)
    else:
        assert response.status_code < 400, (route.label, response.status_code, body[:300])
    location = response.get("Location", "")
    assert "login" not in location, (route.label, location)
    if route.shows:
        expected = route.shows.format(canary=owner.canary, email=owner.user.email)
        assert expected.encode() in body, (route.label, expected, body[:300])


# --- The tests ----------------------------------------------------------------------------


@pytest.fixture
def clients(world, db, settings) -> dict[str, Client]:
    settings.DATA_EXPORT_ROOT = world.export_root
    return clients_for(world)


@pytest.mark.parametrize("route", ROUTES, ids=[r.label for r in ROUTES])
def test_another_shoppers_object_is_refused_unseen_and_unchanged(route, world, clients):
    positive_control(route, world, clients)
    before = snapshot(world.victim_pks())
    prober = Prober(world, clients)
    prober.probe(route)
    after = snapshot(world.victim_pks())
    changed = [f"{k}: {before[k]} -> {after.get(k)}" for k in before if after.get(k) != before[k]]
    assert prober.count > 0
    assert prober.failures + changed == [], "\n".join(prober.failures + changed)


def test_every_route_with_a_path_parameter_is_probed_or_exempt_with_a_reason():
    with_ids = {route for route, _name in _patterns(get_resolver()) if "<" in route}
    probed = {route.pattern for route in ROUTES}
    assert sorted(with_ids - probed - set(EXEMPT)) == []
    assert sorted(probed - with_ids) == [], "a probed route no longer exists"
    assert sorted(set(EXEMPT) - with_ids) == [], "an exemption names no route"
    assert all(reason.strip() for reason in EXEMPT.values())


def test_the_matrix_makes_well_over_a_thousand_probes(world, db):
    at_objects = at_missing = 0
    for route in ROUTES:
        variants = len(ATTACKERS[route.kind]) * len(METHODS) * (2 if route.htmx else 1)
        at_objects += variants * sum(len(route.targets(world, v)) for v in world.victims)
        at_missing += variants
    print(
        f"\naccess matrix: {at_objects} probes at other shoppers' objects and {at_missing} "
        f"at missing ids, over {len(ROUTES)} routes"
    )
    assert at_objects >= 1000
