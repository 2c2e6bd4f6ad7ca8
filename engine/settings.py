"""Settings from the environment (SPEC "Channels and configuration")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from engine.core.timing import parse_timedelta
from engine.exceptions import ConfigurationError

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


def env_bool(value: str | None, *, name: str, default: bool = False) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name}: expected 1/0/true/false/yes/no, got {value!r}", field=name)


def _duration(env: Mapping[str, str], name: str, default: str) -> timedelta:
    raw = env.get(name, default)
    try:
        return parse_timedelta(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: {exc}", field=name) from exc


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: expected a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigurationError(f"{name}: must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: expected a number, got {raw!r}") from exc


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = "sqlite:///forvent.db"
    playbooks_dir: Path = Path("playbooks")
    templates_dir: Path = Path("templates")
    business_file: Path = Path("business.yaml")
    outbox_dir: Path = Path("outbox")
    public_url: str = "http://127.0.0.1:8000"
    secret: str | None = None
    sms_channel: str = "file"
    email_channel: str = "file"
    link_ttl: timedelta = timedelta(days=60)
    max_lateness: timedelta = timedelta(hours=12)
    claim_lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 6
    dispatch_concurrency: int = 32
    sms_rate: float | None = None
    staff_password: str | None = None
    retention_days: int | None = None
    now: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        sms, email = env.get("FORVENT_SMS", "file"), env.get("FORVENT_EMAIL", "file")
        if sms not in {"file", "twilio", "memory"}:
            raise ConfigurationError(f"FORVENT_SMS: expected file or twilio, got {sms!r}")
        if email not in {"file", "smtp", "sendgrid", "memory"}:
            raise ConfigurationError(f"FORVENT_EMAIL: expected file, smtp or sendgrid, got {email!r}")
        retention = env.get("FORVENT_RETENTION_DAYS")
        return cls(
            database_url=env.get("FORVENT_DATABASE_URL", "sqlite:///forvent.db"),
            playbooks_dir=Path(env.get("FORVENT_PLAYBOOKS_DIR", "playbooks")),
            templates_dir=Path(env.get("FORVENT_TEMPLATES_DIR", "templates")),
            business_file=Path(env.get("FORVENT_BUSINESS_FILE", "business.yaml")),
            outbox_dir=Path(env.get("FORVENT_OUTBOX_DIR", "outbox")),
            public_url=env.get("FORVENT_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            secret=env.get("FORVENT_SECRET") or None,
            sms_channel=sms,
            email_channel=email,
            link_ttl=timedelta(days=_int(env, "FORVENT_LINK_TTL_DAYS", 60)),
            max_lateness=_duration(env, "FORVENT_MAX_LATENESS", "12h"),
            claim_lease=_duration(env, "FORVENT_CLAIM_LEASE", "5m"),
            max_attempts=_int(env, "FORVENT_MAX_ATTEMPTS", 6),
            dispatch_concurrency=_int(env, "FORVENT_DISPATCH_CONCURRENCY", 32),
            sms_rate=_float(env, "FORVENT_SMS_RATE"),
            staff_password=env.get("FORVENT_STAFF_PASSWORD") or None,
            retention_days=_int(env, "FORVENT_RETENTION_DAYS", 0, 0) if retention else None,
            now=env.get("FORVENT_NOW") or None,
        )
