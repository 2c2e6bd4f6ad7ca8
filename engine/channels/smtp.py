"""Email over SMTP with the standard library's ``smtplib``.

``send`` submits ``bytes(build_mime(to_email(message)))`` from
``message.from_addr`` to ``message.to``. Connections are kept in a small
pool and reused; one that the server closed while idle is replaced once,
transparently. SMTP replies map onto the channel errors (see
``engine.channels.base``), with ``provider_code`` ``smtp:<reply code>``:

- 4xx replies, timeouts, refused or dropped connections: transient;
- 5xx replies (a refused recipient, sender or message): permanent.
"""

from __future__ import annotations

import dataclasses
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.channels.base import (
    BaseChannel,
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)
from engine.channels.file import to_email
from engine.exceptions import ChannelError
from engine.messages.mime import OutgoingEmail, build_mime

POOL_SIZE = 4  # idle connections kept open
# Connections open at once, whatever FORVENT_DISPATCH_CONCURRENCY: mail servers cap
# a client's (Postfix: 50), and refuse the rest; more sends wait for a free one.
MAX_CONNECTIONS = 32
# Servers drop idle clients (Postfix after 300 s); a connection idle longer
# than this is closed rather than reused, so reuse rarely meets a dead socket.
MAX_IDLE_SECONDS = 60.0


@dataclass
class _Connection:
    smtp: smtplib.SMTP
    idle_since: float


class SmtpEmailChannel(BaseChannel):
    """Sends email through an SMTP server (submission or relay).

    AUTH is used when ``username`` is given; ``starttls`` upgrades the
    connection first (certificate checked against the system's CAs). Safe to
    call from several threads: each send holds its own connection, and at most
    ``max_connections`` sends do at once.
    """

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self._clock = clock
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._open = threading.BoundedSemaphore(max_connections)

    def send(self, message: OutgoingMessage) -> SendResult:
        assert message.from_addr is not None, "an email message needs from_addr"
        email = _outgoing_email(message)
        try:
            data = bytes(build_mime(email))
            with self._open:
                self._submit(message.from_addr, message.to, data)
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._refused(exc, message.to) from exc
        except smtplib.SMTPResponseException as exc:
            raise self._reply_error(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPNotSupportedError, UnicodeEncodeError) as exc:
            # STARTTLS or AUTH missing on the server, or a non-ASCII address
            # (SMTPUTF8 is not used): no retry changes either.
            raise PermanentChannelError(
                f"SMTP server {self.host}: {exc}",
                channel=self.name,
                provider_code="smtp:unsupported",
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise self._connection_error(exc) from exc
        return SendResult(provider_id=email.message_id)

    def _submit(self, from_addr: str, to: str, data: bytes) -> None:
        connection, reused = self._checkout()
        try:
            self._transmit(connection, from_addr, to, data)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # Almost always the server dropped the connection while it sat
            # idle. Trying once more on a fresh one risks no more than the
            # dispatcher's own retry of a transient error would.
            self._transmit(self._connect(), from_addr, to, data)

    def _transmit(self, connection: _Connection, from_addr: str, to: str, data: bytes) -> None:
        try:
            refused = connection.smtp.sendmail(from_addr, [to], data)
        except BaseException:
            # The session state is unknown: never reuse it. No QUIT either,
            # which would wait another timeout on a server that stopped answering.
            connection.smtp.close()
            raise
        self._checkin(connection)
        if refused:  # not with one recipient (smtplib raises instead); kept for safety
            raise smtplib.SMTPRecipientsRefused(refused)

    def _checkout(self) -> tuple[_Connection, bool]:
        """An idle connection (reused=True), else a new one."""
        now, stale, fresh = self._clock(), [], None
        with self._lock:
            while self._idle and fresh is None:
                connection = self._idle.pop()
                if now - connection.idle_since <= MAX_IDLE_SECONDS:
                    fresh = connection
                else:
                    stale.append(connection)
        for connection in stale:  # outside the lock: QUIT is a round trip
            _quit(connection)
        return (fresh, True) if fresh is not None else (self._connect(), False)

    def _checkin(self, connection: _Connection) -> None:
        connection.idle_since = self._clock()
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(connection)
                return
        _quit(connection)

    def _connect(self) -> _Connection:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return _Connection(smtp, self._clock())

    def _refused(self, exc: smtplib.SMTPRecipientsRefused, to: str) -> ChannelError:
        code, reply = exc.recipients.get(to) or next(iter(exc.recipients.values()), (0, b""))
        return self._reply_error(code, reply)

    def _reply_error(self, code: int, reply: bytes | str) -> ChannelError:
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        message = f"SMTP server {self.host} answered {code} {text}"
        kind = PermanentChannelError if 500 <= code < 600 else TransientChannelError
        return kind(message, channel=self.name, provider_code=f"smtp:{code}")

    def _connection_error(self, exc: BaseException) -> ChannelError:
        # smtplib reports a read timeout as SMTPServerDisconnected, chained to it.
        timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
        return TransientChannelError(
            f"SMTP server {self.host}:{self.port}: {exc!r}",
            channel=self.name,
            provider_code="smtp:timeout" if timed_out else "smtp:connection",
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            _quit(connection)


def _outgoing_email(message: OutgoingMessage) -> OutgoingEmail:
    """``to_email(message)`` without ``Message-ID`` among its extra headers.

    The dispatcher passes the Message-ID in ``message.headers``; ``to_email``
    takes it as ``message_id`` but leaves it in ``headers`` too, where
    ``build_mime`` refuses it (it writes the header itself).
    """
    email = to_email(message)
    headers = {k: v for k, v in email.headers.items() if k.lower() != "message-id"}
    return dataclasses.replace(email, headers=headers)


def _quit(connection: _Connection) -> None:
    """Say goodbye if the server still listens; close the socket either way."""
    try:
        connection.smtp.quit()
    except (smtplib.SMTPException, OSError):
        connection.smtp.close()
