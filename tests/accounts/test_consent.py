"""The consent core: one function answers, every change is an appended record."""

import pytest

from accounts.consent import allowed_user_ids, consent_state, is_allowed, set_consent
from accounts.models import ConsentEvent
from accounts.purposes import INSIGHTS, NECESSARY, PANTRY


def test_every_switchable_purpose_is_off_until_granted(alice):
    assert consent_state(alice) == {
        "insights": False,
        "predictions": False,
        "pantry": False,
        "email": False,
        "model_improvement": False,
    }
    assert is_allowed(alice, NECESSARY) is True


def test_grant_then_withdraw_appends_two_records(alice):
    set_consent(user=alice, purpose=INSIGHTS, granted=True, method="consent_centre")
    assert is_allowed(alice, INSIGHTS) is True
    set_consent(user=alice, purpose=INSIGHTS, granted=False, method="consent_centre")
    assert is_allowed(alice, INSIGHTS) is False
    events = list(ConsentEvent.objects.filter(user=alice).order_by("at", "id"))
    assert [(e.purpose, e.granted, e.text.version) for e in events] == [
        (INSIGHTS, True, 1),
        (INSIGHTS, False, 1),
    ]


def test_granting_twice_records_once(alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    assert set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in") is None
    assert ConsentEvent.objects.filter(user=alice).count() == 1


def test_events_cannot_be_rewritten(alice):
    event = set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    event.granted = False
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_the_necessary_purpose_cannot_be_switched(alice):
    with pytest.raises(ValueError):
        set_consent(user=alice, purpose=NECESSARY, granted=False, method="consent_centre")


def test_batch_answer_matches_the_single_answer(alice, charlie):
    set_consent(user=alice, purpose=INSIGHTS, granted=True, method="api")
    set_consent(user=charlie, purpose=INSIGHTS, granted=True, method="api")
    set_consent(user=charlie, purpose=INSIGHTS, granted=False, method="api")
    assert allowed_user_ids(INSIGHTS) == {alice.pk}
    assert allowed_user_ids(INSIGHTS, [charlie.pk]) == set()
