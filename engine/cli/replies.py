"""``forvent reply``: play a customer's SMS reply, as the Twilio inbound webhook receives it.

The text goes through ``Inbound.reply`` exactly as a webhook's ``From``,
``Body`` and ``MessageSid`` do: the same number normalisation, matching,
classification and acknowledgement, in one transaction on the locked booking.
With the file channels, the acknowledgement lands in ``outbox/`` on the next
``forvent dispatch``.
"""

from __future__ import annotations

import click

from engine.cli.app import State, common, console, emit, open_store
from engine.exceptions import UserInputError


def _check_number(raw: str, country: str) -> None:
    """Refuse what is no phone number at all; the inbound path normalises the rest."""
    import phonenumbers

    try:
        phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        raise UserInputError(f"--from: not a phone number: {raw!r}", field="from") from None


@click.command()
@click.option("--from", "sender", required=True, metavar="PHONE", help="National or E.164.")
@click.option("--text", required=True, metavar="TXT", help="The SMS body.")
@click.option("--sid", default=None, metavar="ID", help="Provider id: a repeat is a no-op.")
@common
def reply(state: State, sender: str, text: str, sid: str | None) -> None:
    """A customer's SMS reply, handled as the Twilio inbound webhook handles it."""
    from engine.services.inbound import Inbound

    runtime = open_store(state)
    _check_number(sender, runtime.business.country)
    inbound = Inbound(runtime)
    outcome = inbound.reply(sender, text, sid or None)
    data = {
        "from": inbound.normalise(sender),
        "class": outcome.reply_class,
        "booking": outcome.booking_ref,
        "action": outcome.action,
        "acknowledgement": outcome.acknowledgement,
    }

    def human() -> None:
        line = f"reply from {data['from']}: {outcome.reply_class or 'other'}"
        line += f", booking {outcome.booking_ref or '-'}, {outcome.action}"
        if outcome.acknowledgement:
            line += f"; {outcome.acknowledgement} planned"
        console.print(line, highlight=False, markup=False)

    emit(state, data, human)
