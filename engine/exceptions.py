"""Exceptions raised by the engine.

Every error a user can cause derives from ``ForventError`` and carries a
message that names the field, option or ``file:line`` at fault; the CLI prints
it on one line and exits 1, the HTTP API maps it to a 4xx answer.

    ForventError
    ├── UserInputError            bad value of a field or option           (CLI 1, HTTP 422)
    │   ├── PlaybookError         a playbook or template fails validation (file:line)
    │   └── TemplateRenderError   a template failed while rendering one message
    ├── NotFoundError             unknown booking ref or playbook         (CLI 1, HTTP 404)
    ├── ConflictError             the booking's state refuses the action  (CLI 1, HTTP 409)
    ├── ConfigurationError        missing business file, secret, channel settings
    └── ChannelError              a provider refused or failed a send
        ├── TransientChannelError retry later (timeouts, 429, 5xx, SMTP 4xx)
        └── PermanentChannelError never retry; fall back (invalid number, SMTP 5xx)
"""

from __future__ import annotations

from datetime import timedelta


class ForventError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class UserInputError(ForventError):
    code = "invalid"


class PlaybookError(UserInputError):
    """A playbook or template problem; ``problems`` holds every ``file:line: message``."""

    code = "invalid_playbook"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "invalid playbook")
        self.problems = problems


class TemplateRenderError(UserInputError):
    code = "template_error"


class NotFoundError(ForventError):
    code = "not_found"


class ConflictError(ForventError):
    """``current``: the booking as it is now, when the caller can be told (the API's 409 body)."""

    code = "conflict"
    current: dict[str, object] | None = None

    def details(self) -> dict[str, object]:
        """Further fields of the API's 409 body: the figures the refusal is about."""
        return {}


class ConfigurationError(ForventError):
    code = "configuration"


class ChannelError(ForventError):
    """A send failed. ``provider_code`` is the provider's own code (``21610``, ``550``)."""

    code = "channel"

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        provider_code: str | None = None,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.provider_code = provider_code
        self.retry_after = retry_after

    @property
    def reason(self) -> str:
        """The outbox reason code, ``<channel>:<provider code>``."""
        return f"{self.channel}:{self.provider_code or 'error'}"


class TransientChannelError(ChannelError):
    """Worth retrying: the provider may accept the same message later."""


class PermanentChannelError(ChannelError):
    """Never retried; the dispatcher falls back to the step's next channel."""
