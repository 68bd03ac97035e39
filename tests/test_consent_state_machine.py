"""Random sequences of consent changes, receipts, refreshes and visits, checked after every step.

A hypothesis `RuleBasedStateMachine` drives two shoppers through grant, withdraw, order
ingestion, the refresh tasks and beat jobs (run eagerly), the clock moving on, page
visits, export and erasure. After every step the invariants check that nothing was
processed without a live consent: no derived row for a purpose a shopper has not granted,
no fitted model trained on a shopper who has not granted `model_improvement`, no e-mail
without `email` (nor a reminder digest without `pantry`), and no row left of an erased
shopper.

Each example runs inside a savepoint rolled back at teardown. The habits analysis and the
forecasting model are light stand-ins here (the rules are about which rows exist, not what
they say); the enforcement matrix runs the real habits analysis.

Export and erasure are rules too: an export must derive nothing new and send its e-mail
only with `email`; after an erasure no row may remain for the shopper (`remaining_rows`),
whatever later steps send for them.

`pytest tests/test_consent_state_machine.py -s` prints how many steps ran.
"""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from accounts import tasks as account_tasks
from accounts.consent import consent_state
from accounts.data_rights import erase_account, remaining_rows, request_export
from accounts.models import ErasureRecord
from accounts.purposes import EMAIL, PANTRY, SWITCHABLE
from insights.forecasts import services as forecast_services
from insights.forecasts import tasks as forecast_tasks
from insights.habits import services as habit_services
from insights.habits import tasks as habit_tasks
from insights.pantry import tasks as pantry_tasks
from tests.enforcement import (
    NOW,
    Catalog,
    QuickHabits,
    World,
    committed,
    derived,
    eager_celery,
    order,
)
from tests.enforcement import use_fake_model as _use_fake_model
from tests.factories import CustomerFactory, UserFactory

# A CI-sized run: about this many sequences of up to this many steps.
MAX_EXAMPLES = 10
STEPS_PER_EXAMPLE = 10

STORED_PURPOSES = [p for p in SWITCHABLE if p != EMAIL]  # EMAIL stores nothing of its own
PAGES = ["me-habits", "forecasts:index", "pantry:index", "pantry:notifications"]
counter = {"examples": 0, "steps": 0}


class ConsentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        counter["examples"] += 1
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._clock = time_machine.travel(NOW, tick=False)
        self._traveller = self._clock.start()
        self._eager = eager_celery()
        self._eager.__enter__()
        forecast_services._payload_cache.clear()
        mail.outbox.clear()
        self.mail_seen = 0
        alice = UserFactory(email="alice@example.com", name="Alice")
        charlie = UserFactory(email="charlie@example.com", name="Charlie")
        for user in (alice, charlie):
            CustomerFactory(user=user)
        self.world = World(Catalog.create(), alice, charlie)
        self.shoppers = {"alice": self.world.alice, "charlie": self.world.charlie}
        self.granted: dict[str, set[str]] = {name: set() for name in self.shoppers}
        # name -> (login id, customer id, e-mail) of an erased shopper, for the invariant.
        self.erased: dict[str, tuple[int, int, str]] = {}
        self.products = [self.world.catalog.milk, self.world.catalog.bread]
        self.products += [self.world.catalog.coffee, self.world.catalog.cheese]

    def teardown(self) -> None:
        try:
            self._eager.__exit__(None, None, None)
            self._clock.stop()
            forecast_services._payload_cache.clear()
        finally:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

    def _step(self) -> None:
        counter["steps"] += 1

    # --- consent ---------------------------------------------------------------------------

    @rule(name=st.sampled_from(["alice", "charlie"]), purpose=st.sampled_from(SWITCHABLE))
    def grant(self, name: str, purpose: str) -> None:
        self._step()
        if name in self.erased:
            return
        self.world.grant(self.shoppers[name].user, purpose)
        self.granted[name].add(purpose)

    @rule(name=st.sampled_from(["alice", "charlie"]), purpose=st.sampled_from(SWITCHABLE))
    def withdraw(self, name: str, purpose: str) -> None:
        self._step()
        if name in self.erased:
            return
        self.world.withdraw(self.shoppers[name].user, purpose)
        self.granted[name].discard(purpose)

    # --- receipts and work -----------------------------------------------------------------

    @rule(
        name=st.sampled_from(["alice", "charlie"]),
        days_ago=st.integers(min_value=0, max_value=40),
        picks=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=3, unique=True),
    )
    def ingest(self, name: str, days_ago: int, picks: list[int]) -> None:
        """An order through `ingest_orders`; its refresh runs on commit (debounce 0)."""
        self._step()
        from django.utils import timezone

        when = timezone.now() - timezone.timedelta(days=days_ago, hours=1)
        products = [self.products[i] for i in picks]
        self.world.ingest([order(self.shoppers[name].card, when, products)])

    @rule()
    def nightly_and_hourly_jobs(self) -> None:
        """Every beat job, as beat would send them."""
        self._step()
        with committed():
            habit_tasks.refresh_stale_habits_task.delay()
            forecast_tasks.fit_forecast_model_task.delay()
            forecast_tasks.refresh_stale_forecasts_task.delay()
            pantry_tasks.send_due_reminders_task.delay()
            account_tasks.apply_retention_task.delay()

    @rule(name=st.sampled_from(["alice", "charlie"]))
    def refresh_tasks_for(self, name: str) -> None:
        """The per-shopper tasks, as if queued earlier and delivered now (maybe late)."""
        self._step()
        user_id = self.shoppers[name].user.pk
        with committed():
            habit_tasks.refresh_habits_task.delay(user_id)
            habit_tasks.refresh_habits_batch_task.delay([user_id])
            forecast_tasks.refresh_forecasts_task.delay([user_id])
            pantry_tasks.build_pantry_task.delay(user_id)

    @rule(hours=st.integers(min_value=1, max_value=60))
    def time_passes(self, hours: int) -> None:
        self._step()
        self._traveller.shift(hours * 3600)

    @rule(name=st.sampled_from(["alice", "charlie"]), page=st.sampled_from(PAGES))
    def visit(self, name: str, page: str) -> None:
        self._step()
        if name in self.erased:
            return
        client = Client()
        client.force_login(self.shoppers[name].user)
        with committed():
            response = client.get(reverse(page))
        assert response.status_code in (200, 403)

    # --- data rights -----------------------------------------------------------------------

    @rule(name=st.sampled_from(["alice", "charlie"]))
    def export(self, name: str) -> None:
        """Art. 15/20: the ZIP is built on commit (eagerly); it derives nothing new."""
        self._step()
        if name in self.erased:
            return
        with committed():
            request_export(user=self.shoppers[name].user)

    @rule(name=st.sampled_from(["alice", "charlie"]))
    def erase(self, name: str) -> None:
        """Art. 17: the account goes; later steps still send the shopper's tasks and cards."""
        self._step()
        if name in self.erased:
            return
        user = self.shoppers[name].user
        self.erased[name] = (user.pk, user.customer.pk, user.email)
        with committed():
            erase_account(user=user, method=ErasureRecord.Method.WEB)
        self.granted[name].clear()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def nothing_remains_of_an_erased_shopper(self) -> None:
        for name, (user_id, customer_id, email) in self.erased.items():
            left = remaining_rows(user_id=user_id, customer_id=customer_id, email=email)
            assert left == [], (name, left)

    @invariant()
    def the_model_agrees_with_the_consent_log(self) -> None:
        for name, shopper in self.shoppers.items():
            if name in self.erased:
                continue
            live = {p for p, on in consent_state(shopper.user).items() if on}
            assert live == self.granted[name]

    @invariant()
    def nothing_is_derived_for_a_purpose_without_a_live_grant(self) -> None:
        for name, shopper in self.shoppers.items():
            for purpose in STORED_PURPOSES:
                if purpose not in self.granted[name]:
                    assert derived(purpose, shopper.user) == {}, (name, purpose)

    @invariant()
    def no_email_goes_to_a_shopper_without_email_and_pantry(self) -> None:
        """Any e-mail needs `email`; the reminder digest (it has an unsubscribe link) also
        `pantry`. An erased shopper gets none."""
        for message in mail.outbox[self.mail_seen :]:
            for name, shopper in self.shoppers.items():
                if shopper.user.email not in message.to:
                    continue
                needed = {EMAIL, PANTRY} if "List-Unsubscribe" in message.extra_headers else {EMAIL}
                assert needed <= self.granted[name], (name, message.subject)
        self.mail_seen = len(mail.outbox)


@pytest.mark.django_db
def test_no_sequence_of_steps_processes_anything_without_a_live_consent(
    monkeypatch, settings_fixture, record_property
):
    _use_fake_model(monkeypatch)
    monkeypatch.setattr(habit_services, "analysis", QuickHabits())
    counter.update(examples=0, steps=0)
    run_state_machine_as_test(
        ConsentMachine,
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS_PER_EXAMPLE,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    record_property("state_machine_examples", counter["examples"])
    record_property("state_machine_steps", counter["steps"])
    print(f"\nconsent state machine: {counter['steps']} steps in {counter['examples']} examples")
    assert counter["steps"] > 0


@pytest.fixture
def settings_fixture(settings):
    settings.REFRESH_DEBOUNCE_SECONDS = 0
    return settings
