"""For the privacy admin: the register of processing and consent statistics, staff only,
aggregated, never naming a shopper."""

import json
import re
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from accounts.consent import set_consent
from accounts.models import PurposeText
from accounts.purposes import EMAIL, INSIGHTS, PURPOSES
from accounts.statistics import consent_statistics
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/privacy/staff/register/"
STATISTICS = "/privacy/staff/statistics/"


@pytest.fixture
def privacy_admin(client):
    user = UserFactory(email="pia@example.com", name="Pia Privacy", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_consentevent", content_type__app_label="accounts")
    )
    client.force_login(user)
    return client


def test_the_register_command_prints_every_purpose_as_markdown():
    out = StringIO()
    call_command("processing_register", stdout=out)
    text = out.getvalue()
    assert text.startswith("# Register of processing activities (GDPR art. 30)")
    for key, purpose in PURPOSES.items():
        assert f"### {purpose.title} (`{key}`)" in text
    assert "GDPR art. 6(1)(b)" in text and "GDPR art. 6(1)(a)" in text
    assert "security measures" in text


def test_the_register_command_writes_json_to_a_file(tmp_path, settings):
    settings.PRIVACY_CONTROLLER = {**settings.PRIVACY_CONTROLLER, "name": "Example Grocery AB"}
    out = tmp_path / "register.json"
    call_command("processing_register", "--format", "json", "--out", str(out), stderr=StringIO())
    register = json.loads(out.read_text())
    assert register["controller"]["name"] == "Example Grocery AB"
    assert [p["key"] for p in register["purposes"]] == list(PURPOSES)
    email = next(p for p in register["purposes"] if p["key"] == EMAIL)
    assert email["lawful_basis"] == "consent"
    assert email["while_outdated"] == "pause"
    assert "e-mail delivery provider" in email["recipients"]
    assert all(p["retention"] and p["data_categories"] for p in register["purposes"])
    assert register["security_measures"]


def test_the_register_page_and_its_downloads_are_for_the_privacy_admin(privacy_admin):
    page = privacy_admin.get(REGISTER)
    assert page.status_code == 200
    assert "Register of processing" in page.content.decode()
    assert json.loads(privacy_admin.get(REGISTER, {"format": "json"}).content)["purposes"]
    assert privacy_admin.get(REGISTER, {"format": "md"}).content.startswith(b"# Register")


@pytest.mark.parametrize("url", [REGISTER, STATISTICS])
def test_shoppers_and_anonymous_visitors_are_sent_to_the_admin_login(client, alice, url):
    assert client.get(url)["Location"].startswith("/admin/login/")
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [REGISTER, STATISTICS])
def test_staff_without_the_privacy_permission_are_refused(client, url):
    client.force_login(UserFactory(email="cat@example.com", is_staff=True))
    assert client.get(url).status_code == 403


def test_statistics_count_per_purpose_and_version(alice, charlie):
    bob = UserFactory(email="bob@example.com")
    for user in (alice, charlie, bob):
        set_consent(user=user, purpose=EMAIL, granted=True, method="check_in")
    set_consent(user=bob, purpose=EMAIL, granted=False, method="consent_centre")
    PurposeText.objects.create(purpose=EMAIL, version=2, title="E-mail", body="b", material=True)
    set_consent(user=charlie, purpose=EMAIL, granted=True, method="consent_centre")

    rows = {(r.purpose, r.version): r for r in consent_statistics()}
    v1, v2 = rows[(EMAIL, 1)], rows[(EMAIL, 2)]
    assert (v1.granted_now, v1.outdated, v1.withdrawn_now) == (1, 1, 1)  # alice; bob
    assert (v1.grants_recorded, v1.withdrawals_recorded) == (3, 1)
    assert (v2.granted_now, v2.outdated, v2.withdrawn_now) == (1, 0, 0)  # charlie
    assert rows[(INSIGHTS, 1)].granted_now == 0


def test_the_statistics_page_shows_counts_and_no_shopper(privacy_admin, alice, charlie):
    set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    set_consent(user=charlie, purpose=INSIGHTS, granted=True, method="check_in")
    body = privacy_admin.get(STATISTICS).content.decode()
    assert re.search(r"Habit summaries</th>\s*<td>1</td>\s*<td>yes</td>\s*<td[^>]*>2</td>", body)
    for shopper in (alice, charlie):
        for leak in (shopper.email, shopper.name, shopper.name.split()[0], f"/{shopper.pk}/"):
            assert leak not in body
    assert "example.com" not in body.replace("pia@example.com", "")


def test_the_admin_index_links_the_privacy_pages(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert f'href="{REGISTER}"' in body and f'href="{STATISTICS}"' in body
