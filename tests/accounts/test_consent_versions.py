"""Purpose texts are versioned: a revision asks again without undoing earlier decisions."""

import pytest

from accounts.consent import is_allowed, outdated_grants, set_consent
from accounts.models import ConsentEvent, PurposeText
from accounts.purposes import EMAIL, INSIGHTS, PANTRY

pytestmark = pytest.mark.django_db


def _publish(purpose: str, version: int) -> PurposeText:
    return PurposeText.objects.create(purpose=purpose, version=version, title="t", body="b")


def test_a_grant_under_the_current_text_is_not_outdated(alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    assert outdated_grants(alice) == {}


def test_a_revision_marks_only_standing_grants_as_outdated(alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    set_consent(user=alice, purpose=INSIGHTS, granted=False, method="consent_centre")
    _publish(PANTRY, 2)
    _publish(INSIGHTS, 2)
    _publish(EMAIL, 2)
    assert outdated_grants(alice) == {PANTRY: (1, 2)}
    assert is_allowed(alice, PANTRY)


def test_granting_again_after_a_revision_records_the_new_text(alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    _publish(PANTRY, 2)
    event = set_consent(user=alice, purpose=PANTRY, granted=True, method="consent_centre")
    assert event is not None and event.text.version == 2
    assert set_consent(user=alice, purpose=PANTRY, granted=True, method="consent_centre") is None
    assert outdated_grants(alice) == {}


def test_withdrawing_something_never_granted_records_nothing(alice):
    assert set_consent(user=alice, purpose=PANTRY, granted=False, method="consent_centre") is None
    assert ConsentEvent.objects.count() == 0
