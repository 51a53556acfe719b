"""ADT as real integration engines pass it on, in shapes the adapter's own renderer never makes:
a single-site v2.3 PAS naming its site only in MSH-4, PV1-3 with empty components and
sub-components, repeated segments and field repetitions, timestamps to the second and beyond
with offsets, escape sequences, a byte-order mark ahead of a batch file, and an undo chain
(A02, A03, then A13) with A08 updates that change no ward."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime

import pytest

from feeds.hl7.adt import AdtConverter, Outcome, Rejected, parse_timestamp
from feeds.hl7.framing import split_messages
from models.events import Admission, Discharge, DischargeCancelled, Transfer
from tests.unit.contract import canaries

pytestmark = pytest.mark.unit

KEY = b"engine-shapes-key-0123456789abcdef"
NOW = datetime(2026, 3, 10, tzinfo=UTC)


def _pv1(location: str, visit: str, *, prior: str = "", disposition: str = "") -> str:
    fields = [""] * 51
    fields[:5] = ["PV1", "1", "I", location, "21"]
    fields[6] = prior
    fields[10] = "300"
    fields[19] = visit
    fields[36] = disposition
    return "|".join(fields).rstrip("|")


def _message(
    trigger: str,
    when: str,
    pv1: str,
    *,
    facility: str = "RJ1",
    version: str = "2.4",
    control_id: str = "1",
    between: tuple[str, ...] = (),
) -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|{facility}|ENGINE|{facility}|{when}||ADT^{trigger}|{control_id}|P|"
            f"{version}",
            f"EVN|{trigger}|{when}",
            *between,
            pv1,
        ]
    )


def _convert(*texts: str) -> list[Outcome]:
    converter = AdtConverter(key=KEY, clock=lambda: NOW)
    return [converter.convert(text) for text in texts]


def test_a_single_site_pas_naming_its_site_only_in_msh_4_gives_that_site_and_its_trust() -> None:
    # v2.3, MSH-4 the site's ODS code, PV1-3 with its facility component present but empty
    (outcome,) = _convert(
        _message("A01", "200903011015", _pv1("AMU^^^", "V1"), facility="RJ122", version="2.3")
    )
    assert outcome.status == "accepted", outcome.reason
    (event,) = outcome.events
    assert (event.trust_code, event.site_code, event.ward_code) == ("RJ1", "RJ122", "AMU")


def test_a_trust_code_in_msh_4_and_no_facility_is_still_refused_for_want_of_a_site() -> None:
    (outcome,) = _convert(_message("A01", "200903011015", _pv1("AMU^^^", "V1"), version="2.3"))
    assert (outcome.status, outcome.reason) == ("rejected", "no_site_code")


def test_empty_sub_components_and_repetitions_take_the_first_value_present() -> None:
    location = "AMU&&^^^RJ122&&~OLD^^^RJ199"  # empty sub-components, then a second repetition
    repeated = (
        f"PID|1||{canaries.NHS_NUMBER}^^^NHS^NH~H1^^^RJ1^MR||SMITH^JO~JONES^JO",
        "NK1|1|SMITH^PAT",
        "NK1|2|SMITH^SAM",
        "AL1|1||PENICILLIN",
        "AL1|2||LATEX",
        "OBX|1|ST|X||one",
        "OBX|2|ST|X||two",
    )
    (outcome,) = _convert(
        _message("A01", "20260301101500", _pv1(location, "V1~V2"), between=repeated)
    )
    assert outcome.status == "accepted", outcome.reason
    (event,) = outcome.events
    assert (event.site_code, event.ward_code) == ("RJ122", "AMU")
    assert event.spell_ref == hmac.new(KEY, b"V1", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("202603011015", datetime(2026, 3, 1, 10, 15, tzinfo=UTC)),  # GMT
        ("20260301101530", datetime(2026, 3, 1, 10, 15, 30, tzinfo=UTC)),
        ("20260301101530.1", datetime(2026, 3, 1, 10, 15, 30, 100_000, tzinfo=UTC)),
        ("20260301101530.1234", datetime(2026, 3, 1, 10, 15, 30, 123_400, tzinfo=UTC)),
        ("20260601101530", datetime(2026, 6, 1, 9, 15, 30, tzinfo=UTC)),  # BST
        ("20260301101530+0100", datetime(2026, 3, 1, 9, 15, 30, tzinfo=UTC)),
        ("20260601101530+0000", datetime(2026, 6, 1, 10, 15, 30, tzinfo=UTC)),
        ("20260301101530.25-0130", datetime(2026, 3, 1, 11, 45, 30, 250_000, tzinfo=UTC)),
        ("20260301101530+0530", datetime(2026, 3, 1, 4, 45, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_to_the_minute_second_or_fraction_with_or_without_an_offset(
    text: str, expected: datetime
) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # reduced precision: the missing minutes (and seconds) are zero
        ("2026030110", datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),  # GMT
        ("2026060110", datetime(2026, 6, 1, 9, 0, tzinfo=UTC)),  # BST
        ("2026030110+0100", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ("2026060110-0030", datetime(2026, 6, 1, 10, 30, tzinfo=UTC)),
        ("202606011015+0000", datetime(2026, 6, 1, 10, 15, tzinfo=UTC)),
        # the degree-of-precision component, when the whole field is passed
        ("2026030110^H", datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
        ("202606011015^M", datetime(2026, 6, 1, 9, 15, tzinfo=UTC)),
        # spring forward (29 March 2026, 01:00 GMT -> 02:00 BST): the missing hour is read
        # shifted forward, at the offset before the change, so 01:30 is 01:30 GMT (02:30 BST)
        ("2026032901", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("202603290130", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ("202603290230", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        # fall back (25 October 2026, 02:00 BST -> 01:00 GMT): the repeated hour is the first
        # occurrence, BST
        ("2026102501", datetime(2026, 10, 25, 0, 0, tzinfo=UTC)),
        ("202610250130", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("202610250200", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    ],
)
def test_timestamps_to_the_hour_or_minute_and_at_the_clock_changes(
    text: str, expected: datetime
) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text", ["20260301", "20260301+0000", "20260301^D", "202603", "2026", "20260301^M"]
)
def test_a_date_without_a_time_of_day_is_refused_with_its_own_reason(text: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_timestamp(text)
    assert refused.value.reason == "no_time_of_day"


def test_messages_timed_to_the_hour_or_to_the_day_only() -> None:
    pv1 = _pv1("AMU^^^RJ122", "V1")
    hour, minute, day = _convert(
        _message("A01", "2026030110^H", pv1),
        _message("A01", "202603011015^M", pv1, control_id="2"),
        _message("A01", "20260301^D", pv1, control_id="3"),
    )
    assert hour.events[0].occurred_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert minute.events[0].occurred_at == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert (day.status, day.reason) == ("rejected", "no_time_of_day")


def test_a_timestamp_carrying_its_degree_of_precision_component_is_read() -> None:
    # v2.3 TS: time^degree of precision
    pv1 = _pv1("AMU^^^RJ122", "V1")
    text = _message("A01", "20260301101530", pv1).replace(
        "EVN|A01|20260301101530", "EVN|A01|20260301101530^S"
    )
    (outcome,) = _convert(text)
    assert outcome.events[0].occurred_at == datetime(2026, 3, 1, 10, 15, 30, tzinfo=UTC)


def test_escape_sequences_are_undone_before_the_visit_number_is_keyed() -> None:
    # a visit number holding the component and field separators, escaped as the standard says;
    # the reference is the HMAC of the number itself, so the trust can compute it from the PAS
    names = f"PID|1||{canaries.NHS_NUMBER}||O\\S\\BRIEN^PAT\\F\\RICK^^^MRS"
    admission, discharge = _convert(
        _message("A01", "20260301101500", _pv1("AMU^^^RJ122", "V\\S\\12\\F\\3"), between=(names,)),
        _message(
            "A03",
            "20260302101500",
            _pv1("AMU^^^RJ122", "V\\S\\12\\F\\3", disposition="19"),
            control_id="2",
        ),
    )
    assert admission.status == discharge.status == "accepted"
    expected = hmac.new(KEY, b"V^12|3", hashlib.sha256).hexdigest()
    assert admission.events[0].spell_ref == discharge.events[0].spell_ref == expected
    out = b"".join(admission.raws + discharge.raws).decode()
    assert "BRIEN" not in out and "RICK" not in out and canaries.leaked([out]) == []


def test_an_escaped_separator_in_the_ward_is_refused_not_cut_short() -> None:
    (outcome,) = _convert(_message("A01", "20260301101500", _pv1("AMU\\T\\B^^^RJ122", "V1")))
    assert (outcome.status, outcome.reason) == ("rejected", "no_ward_code")


def test_a02_a03_then_a13_reopens_the_spell_in_the_ward_it_left_and_a08s_change_nothing() -> None:
    site = "^^^RJ122"
    outcomes = _convert(
        _message("A01", "20260301080000", _pv1(f"AMU{site}", "V7"), control_id="1"),
        _message("A08", "20260301083000", _pv1("AMU^B2^4^RJ122", "V7"), control_id="2"),
        _message("A02", "20260301100000", _pv1(f"W12{site}", "V7"), control_id="3"),  # no PV1-6
        _message(
            "A03", "20260302110000", _pv1(f"W12{site}", "V7", disposition="54"), control_id="4"
        ),
        _message("A13", "20260302113000", _pv1(f"W12{site}", "V7"), control_id="5"),
        _message("A08", "20260302120000", _pv1(f"W12{site}", "V7"), control_id="6"),
        _message("A02", "20260302130000", _pv1(f"W14{site}", "V7"), control_id="7"),  # no PV1-6
    )
    assert [o.status for o in outcomes] == [
        "accepted",
        "ignored",
        "accepted",
        "accepted",
        "accepted",
        "ignored",
        "accepted",
    ]
    assert outcomes[1].reason == outcomes[5].reason == "ignored_update_unchanged"
    events = [e for o in outcomes for e in o.events]
    assert [type(e) for e in events] == [
        Admission,
        Transfer,
        Discharge,
        DischargeCancelled,
        Transfer,
    ]
    first, second = events[1], events[4]
    assert isinstance(first, Transfer) and isinstance(second, Transfer)
    assert (first.from_ward_code, first.to_ward_code) == ("AMU", "W12")
    # after the undone discharge the spell is open again in W12, the ward it was discharged from
    assert (second.from_ward_code, second.to_ward_code) == ("W12", "W14")
    assert len({e.spell_ref for e in events}) == 1


def test_a_batch_file_starting_with_a_byte_order_mark_loses_no_message() -> None:
    text = _message("A01", "20260301101500", _pv1("AMU^^^RJ122", "V1"))
    (message,) = split_messages(b"\xef\xbb\xbf" + text.encode() + b"\r\n")
    (outcome,) = _convert(message)
    assert outcome.status == "accepted", outcome.reason


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
def test_a_field_the_parser_cannot_unescape_is_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # python-hl7 logs the raw text of a field it cannot unescape; PV1-19 and PID-18 are
    # identifiers, so nothing of them may reach a log, not even a broken escape
    caplog.set_level(logging.DEBUG)
    visits = ("VBAD\\Z7\\001", "VEMPTY\\\\002", "VHEX\\XZZ\\003")
    outcomes = _convert(
        *(
            _message("A01", "20260301101500", _pv1("AMU^^^RJ122", visit), control_id=str(n))
            for n, visit in enumerate(visits)
        ),
        _message(
            "A01",
            "20260301101500",
            _pv1("AMU^^^RJ122", ""),
            between=("PID|1" + "|" * 17 + "ACCT\\Z9\\0004",),  # PID-18
            control_id="9",
        ),
    )
    assert all(o.status == "accepted" for o in outcomes), [o.reason for o in outcomes]
    for needle in ("VBAD", "VEMPTY", "VHEX", "ACCT", "Z7", "0004"):
        assert needle not in caplog.text


@pytest.mark.parametrize(
    ("ward", "reason"), [("943 476 5919", "nhs_number"), ("0114 271 1900", "phone")]
)
def test_a_spaced_identifier_as_a_ward_is_refused_after_its_spaces_become_underscores(
    ward: str, reason: str
) -> None:
    # PV1-3.1's spaces become "_" (ward codes have none); the guard must still see the number
    (outcome,) = _convert(_message("A01", "20260301101500", _pv1(f"{ward}^^^RJ122", "V1")))
    assert (outcome.status, outcome.reason, outcome.raws) == ("rejected", reason, [])


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    "visit",
    [
        "V\\.sp NHS 943 476 5919\\1",  # a count that is no number: python-hl7's int() fails
        "V\\.sp50000000\\1",  # a count python-hl7 would repeat its line break by
        "V\\.in 12\\1",
    ],
)
def test_a_formatting_escape_with_a_count_in_a_read_field_is_refused_and_never_logged(
    visit: str, caplog: pytest.LogCaptureFixture
) -> None:
    # ".sp", ".in", ".ti", ".sk" take a count in formatted text (FT); no field the adapter reads
    # is FT, and python-hl7 turns the count into that many characters (a 10-digit count is
    # gigabytes) or raises with the field's text in its message
    caplog.set_level(logging.DEBUG)
    (outcome,) = _convert(_message("A01", "20260301101500", _pv1("AMU^^^RJ122", visit)))
    assert (outcome.status, outcome.reason, outcome.raws) == ("rejected", "bad_escape", [])
    assert "943" not in caplog.text and "NHS" not in caplog.text


def test_a_formatting_escape_without_a_count_is_read_as_before() -> None:
    (outcome,) = _convert(_message("A01", "20260301101500", _pv1("AMU^^^RJ122", "V\\.br\\1")))
    assert outcome.status == "accepted", outcome.reason
