"""API fuzzing: schemathesis sends generated requests to every operation of the served schema.

The schema is loaded from /api/v1/schema/ and every request goes through the WSGI
application in process (`schemathesis.openapi.from_wsgi`), as three callers: no
credentials, Alice's session (a shopper with orders, habits, a list, a pantry, an export
and every consent; with her CSRF token, as a browser sends it) and a store system's API
key with every scope. For each operation and caller schemathesis runs its phases (the
schema's examples, boundary "coverage" cases, then `MAX_EXAMPLES` generated requests,
valid and invalid) and its default checks on every answer: no 5xx, a documented status
code, the documented content type and headers, a body that matches the response schema,
invalid input refused and valid input accepted.

Every request runs in a savepoint rolled back after it, so one example's orders, link codes
or exports never change what the next one sees. Generation is derandomised with a fixed
seed: a failure reproduces on the next run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.test import Client, override_settings
from hypothesis import HealthCheck, settings

from insights.api.models import Scope
from insights.wsgi import application
from tests.access import Planted, built_once, plant
from tests.accounts.factories import make_api_client
from tests.habits.factories import grant_insights

MAX_EXAMPLES = 20
SEED = 7
CALLERS = ("anonymous", "shopper", "store system")


@dataclass
class Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass
class FuzzWorld:
    alice: Planted
    bob: Planted
    key: str


SENT: Counter[str] = Counter()  # requests per operation, for the summary printed with -s


@pytest.fixture(scope="module", autouse=True)
def _summary() -> Iterator[None]:
    yield
    if SENT:
        print(f"\nAPI fuzzing: {sum(SENT.values())} requests over {len(SENT)} operations")


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[FuzzWorld]:
    with built_once(django_db_blocker, tmp_path_factory.mktemp("fuzz-exports")):
        alice, bob = plant("alice"), plant("bob")
        _client, key = make_api_client(name="till", scopes=list(Scope.values))
        yield FuzzWorld(alice=alice, bob=bob, key=key)


@pytest.fixture
def wsgi_requests_keep_the_test_connection():
    """Django's handler closes stale connections around each request, which inside a test
    transaction means closing the test's own; Django's test client disconnects it the same
    way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _werkzeug_host(settings):
    settings.ALLOWED_HOSTS = [WSGI_HOST, "testserver"]


@pytest.fixture(params=CALLERS)
def caller(request) -> str:
    return request.param


def _credentials(caller: str, world: FuzzWorld) -> Credentials | None:
    if caller == "store system":
        return Credentials(headers={"Authorization": f"Api-Key {world.key}"})
    if caller == "shopper":
        browser = Client()
        browser.force_login(world.alice.user)
        csrf_request = HttpRequest()
        token = get_token(csrf_request)
        return Credentials(
            headers={"X-CSRFToken": token},
            cookies={
                django_settings.SESSION_COOKIE_NAME: browser.cookies[
                    django_settings.SESSION_COOKIE_NAME
                ].value,
                django_settings.CSRF_COOKIE_NAME: csrf_request.META["CSRF_COOKIE"],
            },
        )
    return None


# The caller of the running test. Schemathesis applies credentials through an auth provider,
# so it knows them for what they are: it leaves them out where it tests a missing or wrong
# credential, and checks that those requests are refused.
CURRENT: dict[str, Credentials | None] = {"credentials": None}


@pytest.fixture
def as_caller(caller, fuzz_world, db) -> Iterator[None]:
    CURRENT["credentials"] = _credentials(caller, fuzz_world)
    yield
    CURRENT["credentials"] = None


# Loaded at collection, so every operation is a test of its own. The schema view reads no
# database; schemathesis's WSGI client names the host "localhost".
WSGI_HOST = "localhost"
with override_settings(ALLOWED_HOSTS=[WSGI_HOST]):
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/", application, config=schemathesis.Config.from_dict({"seed": SEED})
    )


INGEST = "/api/v1/ingest/orders"


# What one order's total (and total saved) can hold: a column of 12 digits, 2 decimals.
ORDER_SUM_LIMIT = Decimal("1e10")


@schema.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """Give generated batches the rules a schema cannot state: an order's id is unique in
    its batch, its lines' amounts and discounts each add up to less than 10^10, and its
    total is the sum of its lines. Schemathesis re-classifies a case after a hook changes
    it, so this never passes invalid data off as valid."""
    if case.operation.path == INGEST and isinstance(case.body, dict):
        orders = case.body.get("orders")
        for n, order in enumerate(orders if isinstance(orders, list) else []):
            if not isinstance(order, dict):
                continue
            if isinstance(order.get("external_id"), str):
                order["external_id"] = f"{order['external_id'][:56]}-{n}"
            lines = order.get("lines")
            for names in (("amount_paid",), ("discount", "coupon_discount")):
                total = _sum(lines, names)
                if total is not None and total >= ORDER_SUM_LIMIT:
                    for line in lines:
                        line.update({name: "1.00" for name in names if name in line})
            if "total_amount" in order:
                total = _sum(lines, ("amount_paid",))
                if total is None:
                    del order["total_amount"]
                else:
                    order["total_amount"] = str(total)
    return case


def _sum(lines: object, names: tuple[str, ...]) -> Decimal | None:
    """The lines' values of `names` added up, or None when any is not a decimal string."""
    if not isinstance(lines, list):
        return None
    try:
        total = sum((Decimal(line.get(name, "0")) for line in lines for name in names), Decimal(0))
    except (TypeError, AttributeError, ValueError, ArithmeticError):
        return None
    return total if total.is_finite() else None


@schema.auth(refresh_interval=None)
class CallerAuth:
    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> Credentials | None:
        return CURRENT["credentials"]

    def set(
        self, case: schemathesis.Case, data: Credentials, context: schemathesis.AuthContext
    ) -> None:
        case.headers = {**(case.headers or {}), **data.headers}
        case.cookies = {**(case.cookies or {}), **data.cookies}


@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    # The database fixtures are set up once per caller, not per example, on purpose: each
    # example rolls its own writes back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@schema.parametrize()
@pytest.mark.usefixtures("as_caller", "wsgi_requests_keep_the_test_connection")
def test_every_operation_answers_as_its_schema_says(case):
    SENT[case.operation.label] += 1
    with transaction.atomic():
        case.call_and_validate()
        transaction.set_rollback(True)


@pytest.mark.parametrize(
    ("caller", "path", "expected"),
    [
        ("anonymous", "/api/v1/me/shopping-list", 403),
        ("shopper", "/api/v1/me/shopping-list", 200),
        ("store system", "/api/v1/customers/loyalty_card:CARD-ALICE-7001/consents", 200),
    ],
)
@pytest.mark.usefixtures("as_caller", "wsgi_requests_keep_the_test_connection")
def test_each_callers_credentials_work_through_the_wsgi_client(path, expected):
    """The control for the fuzzing above: documented refusals (403) pass its checks, so a
    shopper whose session did not work would pass unseen; here it must get in."""
    from werkzeug.test import Client as WerkzeugClient

    credentials = CURRENT["credentials"] or Credentials()
    browser = WerkzeugClient(application)
    for name, value in credentials.cookies.items():
        browser.set_cookie(name, value, domain=WSGI_HOST)
    response = browser.get(path, headers=credentials.headers)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]


# --- What the fuzzing found, pinned -------------------------------------------------------


def test_an_unknown_url_under_the_api_answers_json_and_the_site_its_page(client, db):
    api = client.get("/api/v1/me/orders/not-a-number")
    assert (api.status_code, api["Content-Type"]) == (404, "application/json")
    assert api.json() == {"detail": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_the_habits_api_refuses_a_date_that_is_not_one(alice_client, alice):
    grant_insights(alice)
    response = alice_client.get("/api/v1/me/habits", {"to": ""})
    assert response.status_code == 400
    assert response.json() == {"to": "Give a date as YYYY-MM-DD."}


def test_ingestion_takes_json_only(client, db):
    _client, key = make_api_client(name="json-only", scopes=[Scope.INGEST])
    response = client.post(INGEST, {"orders": "x"}, headers={"Authorization": f"Api-Key {key}"})
    assert response.status_code == 415
    assert response.json()["errors"][0]["reason"] == "must be sent as application/json"


@pytest.mark.parametrize("url", [INGEST, "/api/v1/customers/link", "/api/v1/customers/link-codes"])
def test_a_shoppers_session_on_a_store_endpoint_is_refused_before_the_body_is_read(
    alice_client, url
):
    response = alice_client.post(url, "\x00", content_type="application/json")
    assert response.status_code == 403
