"""HL7 v2 original-mode acknowledgements (MSA-1), with the reason code in MSA-3.

As HL7 v2 defines them: AA accepted; AE the content is in error (resending the same message
cannot help); AR not processed for a reason unrelated to the content (the broker is down: the
sender decides to resend, and engines retry an AR by default), or a header that fails
validation (not HL7, a message type or trigger opsradar does not take). An ACK copies only the
header routing fields and MSH-10 of the message it answers, never its content."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from feeds.hl7.adt import NOT_ADT, NOT_HL7, UNSUPPORTED_TRIGGER

#: header failures (MSH-9 and before): AR, as the standard has it for a message it cannot route
REJECT_REASONS: Final = frozenset({NOT_HL7, NOT_ADT, UNSUPPORTED_TRIGGER})
ACCEPT: Final = "AA"
ERROR: Final = "AE"
REJECT: Final = "AR"


def ack_code(status: str, reason: str | None) -> str:
    if status != "rejected":
        return ACCEPT
    return REJECT if reason in REJECT_REASONS else ERROR


def ack(message: Any, code: str, reason: str | None, control_id: str) -> str:
    """The ACK for ``message`` (a parsed message, or None when it could not be parsed)."""
    if message is None:
        now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        msh = f"MSH|^~\\&|OPSRADAR||||{now}||ACK|{control_id}|P|2.5"
        return f"{msh}\rMSA|{code}||{reason or ''}\r"
    reply = message.create_ack(ack_code=code, message_id=control_id)
    if reason:
        reply.segment("MSA").assign_field(reason, 3)
    return str(reply)
