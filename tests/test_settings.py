"""Settings come from the environment only, and bad values stop start-up with a clear error."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from insights.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


def _django_check(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_debug_a_missing_secret_key_is_a_clear_start_up_error():
    result = _django_check()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_off_with_a_secret_key_starts():
    result = _django_check(SECRET_KEY="a-long-enough-secret-for-the-check")
    assert result.returncode == 0, result.stderr


def test_a_malformed_boolean_is_rejected(monkeypatch):
    monkeypatch.setenv("KVITTO_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="KVITTO_FLAG"):
        env_bool("KVITTO_FLAG")


def test_booleans_integers_and_lists_are_parsed(monkeypatch):
    monkeypatch.setenv("KVITTO_FLAG", "Yes")
    monkeypatch.setenv("KVITTO_NUMBER", "42")
    monkeypatch.setenv("KVITTO_HOSTS", "a.example, b.example,")
    assert env_bool("KVITTO_FLAG") is True
    assert env_int("KVITTO_NUMBER", 1) == 42
    assert env_list("KVITTO_HOSTS") == ["a.example", "b.example"]


def test_a_malformed_integer_is_rejected(monkeypatch):
    monkeypatch.setenv("KVITTO_NUMBER", "forty-two")
    with pytest.raises(ImproperlyConfigured, match="KVITTO_NUMBER"):
        env_int("KVITTO_NUMBER", 1)


def test_every_setting_read_from_the_environment_is_documented():
    import re

    names = set()
    for path in (ROOT / "insights").glob("settings.py"):
        names |= set(re.findall(r'env_(?:str|bool|int|list)\("([A-Z_]+)"', path.read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert names, "no settings found"
    assert names - documented == set()
