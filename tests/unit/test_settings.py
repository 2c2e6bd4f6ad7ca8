"""Settings: SPEC's variables and defaults, one error naming the variable, one reader of the environment."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from engine.exceptions import ConfigurationError
from engine.settings import Settings, SmtpSettings, TwilioSettings

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = re.compile(r"\benviron\b|\bgetenv\b")
# Where the environment is read other than for configuration, or outside the engine's runtime.
ALLOWED_FILES = {
    "engine/environment.py",  # the one reader of configuration
    # run by a hand-typed `alembic upgrade` too, with no settings to pass FORVENT_SECRET
    "engine/migrations/versions/0003_keyed_opt_out_hashes.py",
}
ALLOWED_LINES = re.compile(
    r'os\.environ\.setdefault\("PYTHONIOENCODING"'  # process set-up: a write, not configuration
    r"|in os\.environ\.items\(\)"  # the whole environment handed on to a child process
)


def test_only_the_settings_read_the_environment() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "engine").rglob("*.py"))
        if str(path.relative_to(REPO)) not in ALLOWED_FILES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ENVIRONMENT.search(line) and not ALLOWED_LINES.search(line)
    ]
    assert found == []


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url == "sqlite:///forvent.db"
    assert (settings.playbooks_dir, settings.templates_dir) == (Path("playbooks"), Path("templates"))
    assert (settings.business_file, settings.outbox_dir) == (Path("business.yaml"), Path("outbox"))
    assert settings.public_url == "http://127.0.0.1:8000"
    assert (settings.sms_channel, settings.email_channel) == ("file", "file")
    assert settings.link_ttl == timedelta(days=60)
    assert settings.max_lateness == timedelta(hours=12)
    assert settings.claim_lease == timedelta(minutes=5)
    assert (settings.max_attempts, settings.dispatch_concurrency) == (6, 256)
    assert settings.secret is settings.staff_password is settings.sms_rate is None
    assert settings.retention_days is settings.now is settings.email_from is None
    assert settings.log_level == "WARNING"
    assert settings.smtp == SmtpSettings(port=25, starttls=False)


def test_every_variable_lands_in_its_field() -> None:
    settings = Settings.from_env(
        {
            "FORVENT_DATABASE_URL": "postgresql+psycopg://forvent@127.0.0.1/forvent",
            "FORVENT_PLAYBOOKS_DIR": "/srv/playbooks",
            "FORVENT_TEMPLATES_DIR": "/srv/templates",
            "FORVENT_BUSINESS_FILE": "/srv/business.yaml",
            "FORVENT_OUTBOX_DIR": "/srv/outbox",
            "FORVENT_PUBLIC_URL": "https://verksted.example/",
            "FORVENT_SECRET": "s3cret",
            "FORVENT_SMS": "twilio",
            "FORVENT_EMAIL": "smtp",
            "FORVENT_EMAIL_FROM": "post@verksted.example",
            "FORVENT_LINK_TTL_DAYS": "30",
            "FORVENT_MAX_LATENESS": "2h",
            "FORVENT_CLAIM_LEASE": "90s",
            "FORVENT_MAX_ATTEMPTS": "3",
            "FORVENT_DISPATCH_CONCURRENCY": "4",
            "FORVENT_SMS_RATE": "2.5",
            "FORVENT_STAFF_PASSWORD": "staff",
            "FORVENT_RETENTION_DAYS": "0",
            "FORVENT_NOW": "2026-11-23T12:00:00+01:00",
            "FORVENT_LOG_LEVEL": "info",
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "token",
            "TWILIO_FROM": " Verkstedet ",
            "TWILIO_MESSAGING_SERVICE_SID": "",
            "FORVENT_TWILIO_API_BASE": "http://127.0.0.1:4010",
            "SMTP_HOST": "smtp.example",
            "SMTP_PORT": "2525",
            "SMTP_USERNAME": "forvent",
            "SMTP_PASSWORD": "pw",
            "SMTP_STARTTLS": "yes",
            "SENDGRID_API_KEY": "SG.key",
            "FORVENT_SENDGRID_API_BASE": "http://127.0.0.1:4011",
        }
    )
    assert settings.database_url == "postgresql+psycopg://forvent@127.0.0.1/forvent"
    assert settings.playbooks_dir == Path("/srv/playbooks")
    assert settings.templates_dir == Path("/srv/templates")
    assert settings.business_file == Path("/srv/business.yaml")
    assert settings.outbox_dir == Path("/srv/outbox")
    assert settings.public_url == "https://verksted.example"
    assert (settings.secret, settings.staff_password) == ("s3cret", "staff")
    assert (settings.sms_channel, settings.email_channel) == ("twilio", "smtp")
    assert settings.email_from == "post@verksted.example"
    assert settings.link_ttl == timedelta(days=30)
    assert (settings.max_lateness, settings.claim_lease) == (timedelta(hours=2), timedelta(seconds=90))
    assert (settings.max_attempts, settings.dispatch_concurrency) == (3, 4)
    assert (settings.sms_rate, settings.retention_days) == (2.5, 0)
    assert settings.now == "2026-11-23T12:00:00+01:00"
    assert settings.log_level == "INFO"
    assert settings.twilio == TwilioSettings(
        account_sid="AC1", auth_token="token", sender="Verkstedet", api_base="http://127.0.0.1:4010"
    )
    assert settings.smtp == SmtpSettings(
        host="smtp.example", port=2525, username="forvent", password="pw", starttls=True
    )
    assert settings.sendgrid.api_key == "SG.key"
    assert settings.sendgrid.api_base == "http://127.0.0.1:4011"


def test_blank_optional_variables_are_unset() -> None:
    blank = ("FORVENT_SECRET", "FORVENT_STAFF_PASSWORD", "FORVENT_SMS_RATE", "FORVENT_RETENTION_DAYS")
    settings = Settings.from_env(dict.fromkeys((*blank, "FORVENT_NOW", "SMTP_PORT", "SMTP_HOST"), ""))
    assert settings.secret is settings.staff_password is settings.sms_rate is None
    assert settings.retention_days is settings.now is settings.smtp.host is None
    assert settings.smtp.port == 25


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FORVENT_SMS", "carrier-pigeon", "FORVENT_SMS: expected file or twilio, got 'carrier-pigeon'"),
        ("FORVENT_EMAIL", "fax", "FORVENT_EMAIL: expected file, smtp or sendgrid, got 'fax'"),
        ("FORVENT_CLAIM_LEASE", "5x", "FORVENT_CLAIM_LEASE: bad duration '5x'"),
        ("FORVENT_MAX_LATENESS", "1mo", "FORVENT_MAX_LATENESS: bad duration '1mo'"),
        ("FORVENT_MAX_ATTEMPTS", "many", "FORVENT_MAX_ATTEMPTS: expected a whole number, got 'many'"),
        ("FORVENT_MAX_ATTEMPTS", "0", "FORVENT_MAX_ATTEMPTS: must be at least 1"),
        ("FORVENT_DISPATCH_CONCURRENCY", "0", "FORVENT_DISPATCH_CONCURRENCY: must be at least 1"),
        ("FORVENT_LINK_TTL_DAYS", "0", "FORVENT_LINK_TTL_DAYS: must be at least 1"),
        ("FORVENT_RETENTION_DAYS", "-1", "FORVENT_RETENTION_DAYS: must be at least 0"),
        ("FORVENT_SMS_RATE", "fast", "FORVENT_SMS_RATE: expected a number, got 'fast'"),
        ("FORVENT_LOG_LEVEL", "loud", "FORVENT_LOG_LEVEL: expected one of DEBUG, INFO, WARNING"),
        ("SMTP_PORT", "smtp", "SMTP_PORT: expected a port number, got 'smtp'"),
        ("SMTP_PORT", "70000", "SMTP_PORT: expected a port number, got '70000'"),
        ("SMTP_STARTTLS", "maybe", "SMTP_STARTTLS: expected 1/0/true/false/yes/no, got 'maybe'"),
        ("FORVENT_TWILIO_API_BASE", "127.0.0.1:4010", "FORVENT_TWILIO_API_BASE: expected a URL like"),
        ("FORVENT_SENDGRID_API_BASE", "ftp://x", "FORVENT_SENDGRID_API_BASE: expected a URL like"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({variable: value})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert caught.value.field == variable


def test_keyword_settings_ignore_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORVENT_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-the-environment")
    settings = Settings(secret="given")
    assert settings.database_url == "sqlite:///forvent.db"
    assert settings.twilio.auth_token is None
    assert Settings.from_env().database_url == "sqlite:///elsewhere.db"


def test_secrets_stay_out_of_the_repr() -> None:
    settings = Settings(
        secret="s3cret-1",
        staff_password="s3cret-2",
        twilio=TwilioSettings(auth_token="s3cret-3"),
        smtp=SmtpSettings(password="s3cret-4"),
    )
    assert "s3cret" not in repr(settings)
