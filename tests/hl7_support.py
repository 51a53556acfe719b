"""HL7 v2.4 ADT messages as an NHS trust's PAS sends them, rendered from bed-flow events.

Every identifying field is filled with a canary (tests/unit/contract/canaries.py): PID-3 with the
NHS number (assigning authority NHS, type NH), PID-5 and NK1-2 names, PID-7 date of birth,
PID-11 and NK1-4 addresses with the postcode, PID-13 phone and e-mail, plus a Z-segment. The
visit number PV1-19 is the event's own spell_ref prefix, so the events the adapter makes from
the messages are the original ones with each spell_ref replaced by its HMAC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Final

from models.events import (
    Admission,
    AdmissionCancelled,
    Discharge,
    DischargeCancelled,
    Event,
    Transfer,
    TransferCancelled,
)
from tests.unit.contract import canaries

SURNAME: Final = "CANARYSURNAME"
FORENAME: Final = "CANARYFORENAME"
DOB: Final = "19470312"
NAMES: Final = (SURNAME, FORENAME, "CANARYKIN")

#: contract admission_method -> PV1-4 (NHS admission method code)
_METHODS: Final = {
    "elective": "11",
    "emergency": "21",
    "maternity": "31",
    "transfer_in": "81",
    "other": "99",
}
#: contract destination -> PV1-36 (NHS discharge destination code)
_DESTINATIONS: Final = {
    "usual_residence": "19",
    "care_home": "54",
    "community_bed": "51",
    "other_provider": "49",
    "died": "79",
    "other": "98",
}
SITE_MAP: Final = '[discharge_destinations]\n"51" = "community_bed"\n"98" = "other"\n'


def visit_number(spell_ref: str) -> str:
    return "V" + spell_ref.upper()


def _ts(event: Event) -> str:
    return event.occurred_at.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _pid() -> str:
    return (
        f"PID|1||{canaries.NHS_NUMBER}^^^NHS^NH~H1234567^^^RJ1^MR||{SURNAME}^{FORENAME}^^^MR||"
        f"{DOB}|F|||1 Canary Street^^London^^{canaries.POSTCODE}^GBR||"
        f"{canaries.PHONE_MOBILE}^PRN^PH^{canaries.EMAIL}|||||"
    )


def _nk1() -> str:
    return (
        f"NK1|1|CANARYKIN^PAT|SPO|2 Canary Road^^London^^{canaries.POSTCODE_COMPACT}|"
        f"{canaries.PHONE_INTERNATIONAL}"
    )


def _pv1(
    *,
    ward: str,
    site: str,
    visit: str,
    admission_type: str = "",
    prior: str = "",
    service: str = "",
    disposition: str = "",
) -> str:
    fields = [""] * 51
    fields[0] = "PV1"
    fields[1] = "1"
    fields[2] = "I"
    fields[3] = f"{ward}^BAY1^BED3^{site}"
    fields[4] = admission_type
    fields[6] = f"{prior}^^^{site}" if prior else ""
    fields[7] = "C1234567^CANARYDOCTOR^ANN^^^DR"
    fields[10] = service
    fields[19] = f"{visit}^^^RJ1^VN"
    fields[36] = disposition
    return "|".join(fields)


def render(event: Event, control_id: str) -> str | None:
    """The ADT message for a bed-flow event (None for types ADT does not carry)."""
    ref = getattr(event, "spell_ref", None)
    if ref is None:
        return None
    visit = visit_number(ref)
    site = event.site_code or ""
    if isinstance(event, Admission):
        trigger = "A01"
        pv1 = _pv1(
            ward=event.ward_code,
            site=site,
            visit=visit,
            admission_type=_METHODS[event.admission_method],
            service=event.specialty_code,
        )
    elif isinstance(event, Transfer):
        trigger = "A02"
        pv1 = _pv1(ward=event.to_ward_code, site=site, visit=visit, prior=event.from_ward_code)
    elif isinstance(event, Discharge):
        trigger = "A03"
        pv1 = _pv1(
            ward=event.ward_code,
            site=site,
            visit=visit,
            disposition=_DESTINATIONS[event.destination],
        )
    elif isinstance(event, AdmissionCancelled | TransferCancelled | DischargeCancelled):
        trigger = {AdmissionCancelled: "A11", TransferCancelled: "A12"}.get(type(event), "A13")
        pv1 = _pv1(ward=event.ward_code, site=site, visit=visit)
    else:
        return None
    when = _ts(event)
    segments = [
        f"MSH|^~\\&|PAS|{event.trust_code}|OPSRADAR|{event.trust_code}|{when}||"
        f"ADT^{trigger}^ADT_A01|{control_id}|P|2.4|||AL|NE|GBR",
        f"EVN|{trigger}|{when}||||{when}",
        _pid(),
        _nk1(),
        pv1,
        "PV2|||^CANARY REASON FOR ADMISSION",
        f"ZPV|1|{canaries.NHS_NUMBER_SPACED}|{SURNAME}",
    ]
    return "\r".join(segments)


def render_all(events: Iterable[Event]) -> Iterator[str]:
    for number, event in enumerate(events, start=1):
        text = render(event, f"MSG{number:08d}")
        if text is not None:
            yield text


def canary_texts() -> tuple[str, ...]:
    """Every identifying value planted, beyond the contract's canaries."""
    return (*NAMES, DOB, "H1234567", "Canary Street", "CANARYDOCTOR", "CANARY REASON")


class ListenerProcess:
    """``opsradar hl7 listen`` as a subprocess on a free port; ``stop()`` returns its summary
    and everything it wrote to stderr (its logs)."""

    def __init__(
        self, *, key_file: str, bootstrap: str, topic_suffix: str, extra: list[str]
    ) -> None:
        import subprocess
        import sys

        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "hl7",
                "listen",
                "--port",
                "0",
                "--key-file",
                key_file,
                "--bootstrap",
                bootstrap,
                "--topic-suffix",
                topic_suffix,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr_lines: list[str] = []
        assert self.process.stderr is not None
        for line in self.process.stderr:  # blocks until the listener says where it listens
            self.stderr_lines.append(line)
            if "listening on" in line:
                self.port = int(line.rsplit(":", 1)[1])
                break
        else:
            raise RuntimeError(
                "the listener exited before listening: " + "".join(self.stderr_lines)
            )

    def stop(self) -> tuple[dict[str, object], str]:
        import json
        import signal

        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1]), "".join(self.stderr_lines) + err


async def send_all(port: int, blocks: list[bytes], connections: int = 4) -> list[str]:
    """Send MLLP blocks over ``connections`` sequential MLLP connections (each waits for its
    ACK, as integration engines do in original mode); the MSA-1 code of each, in input order.

    Block i goes over connection i % connections, so the order of one connection is kept;
    the caller keeps each spell's messages on one connection."""
    import asyncio

    from hl7.mllp import open_hl7_connection

    codes: list[str] = [""] * len(blocks)

    async def one(lane: int) -> None:
        reader, writer = await open_hl7_connection("127.0.0.1", port)
        try:
            for index in range(lane, len(blocks), connections):
                writer.write(blocks[index])
                await writer.drain()
                reply = (await reader.readblock()).decode()
                msa = next(s for s in reply.split("\r") if s.startswith("MSA"))
                codes[index] = msa.split("|")[1]
        finally:
            writer.close()

    await asyncio.gather(*(one(lane) for lane in range(connections)))
    return codes


def render_update(event: Admission, control_id: str) -> str:
    """An A08 (update patient information) for an admitted spell that changes nothing the
    contract carries: same ward, a new consultant in PV1-7."""
    text = render(event, control_id)
    assert text is not None
    return text.replace("ADT^A01^ADT_A01", "ADT^A08^ADT_A01").replace("EVN|A01", "EVN|A08")
