"""HL7 v2 original-mode acknowledgements: AA accepted, AE error, AR rejected (MSA-1), with the
reason code in MSA-3. An ACK copies only the header routing fields and MSH-10 of the message
it answers, never its content."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from feeds.hl7.adt import NOT_ADT, NOT_HL7, UNSUPPORTED_TRIGGER

#: reasons for which the message itself is refused (resending it cannot help)
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
