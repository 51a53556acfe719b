"""``opsradar validate``: exact counts per reason, gzip by magic, nothing identifying out."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from tests.unit.contract import canaries
from tests.unit.contract.examples import all_examples, example

pytestmark = pytest.mark.unit


def line(value: Any) -> bytes:
    return json.dumps(value).encode() + b"\n"


def run_validate(
    args: list[str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> tuple[int, str, str]:
    caplog.set_level(logging.DEBUG)
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def mixed_file_lines() -> tuple[list[bytes], dict[str, Any]]:
    """Valid events of every type, invalid and identifying ones; and the exact expected summary."""
    valid = all_examples()
    lines = [line(event) for event in valid]  # 24 accepted
    lines.append(line(valid[:5]))  # a batch: 5 accepted
    lines.append(b"\n")
    lines.append(b"   \n")  # blank lines are ignored
    planted = [
        example("admission", ward_code=canaries.NHS_NUMBER),
        example("transfer", to_ward_code=canaries.NHS_NUMBER_DASHED),
        example("discharge", notes=f"NHS no {canaries.NHS_NUMBER_SPACED}"),
        example("ward_capacity", ward_code=canaries.POSTCODE_COMPACT),
        example("shift_filled", comment=f"lives at {canaries.POSTCODE}"),
        example("referral_received", source_system=canaries.EMAIL),
        example("absence_reported", source_system=canaries.PHONE_MOBILE.replace(" ", "-")),
        example("pathway_closed", callback=canaries.PHONE_INTERNATIONAL),
        example("admission", spell_ref=canaries.NHS_NUMBER_TEST_RANGE),
        example("discharge_sitrep", nhs_number=canaries.NHS_NUMBER),
        example("delay_reasons_sitrep", counts={canaries.NHS_NUMBER: 1}),
    ]
    lines += [line(event) for event in planted]
    # a batch mixing one good event with one leaking event
    lines.append(line([example("shift_unfilled"), example("shift_changed", change=canaries.EMAIL)]))
    lines.append(
        b'{"event_type": "admission", "ward_code": "' + canaries.NHS_NUMBER.encode() + b'"\n'
    )
    lines.append(line(example("admission", ward_code="amu")))
    lines.append(line(example("discharge", destination="home")))
    lines.append(b"not json at all\n")
    lines.append(line(example("admission", site_code="RXX22")))
    lines.append(line(example("admission", occurred_at="2999-01-01T00:00:00Z")))
    lines.append(line([]))
    summary = {
        "accepted": 24 + 5 + 1,
        "rejected": 11 + 1 + 6 + 1,
        "reasons": {
            "bad_enum": 1,
            "bad_pattern": 1,
            "email": 2,
            "empty_batch": 1,
            "future_time": 1,
            "identifier_field": 1,
            "invalid_json": 1,
            "nhs_number": 6,
            "phone": 2,
            "postcode": 2,
            "site_not_in_trust": 1,
        },
    }
    return lines, summary


def test_mixed_file_exact_counts_and_no_canary_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    lines, summary = mixed_file_lines()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    assert canaries.leaked([path.read_text()]), "the input must carry the canaries"
    code, out, err = run_validate([str(path)], capsys, caplog)
    assert code == 0
    assert json.loads(out) == summary
    assert out.count("\n") == 1
    logged = [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert canaries.leaked([out, err, *logged]) == []


def test_gzip_is_detected_by_magic_bytes_not_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    lines, summary = mixed_file_lines()
    zipped = tmp_path / "events.jsonl"  # gzip content, plain name
    zipped.write_bytes(gzip.compress(b"".join(lines)))
    plain = tmp_path / "events.jsonl.gz"  # plain content, gzip name
    plain.write_bytes(b"".join(lines))
    code, out, _ = run_validate([str(zipped), str(plain)], capsys, caplog)
    assert code == 0
    doubled = json.loads(out)
    assert doubled["accepted"] == 2 * summary["accepted"]
    assert doubled["reasons"] == {k: 2 * v for k, v in summary["reasons"].items()}


def test_empty_and_blank_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.jsonl.gz"
    blank.write_bytes(gzip.compress(b"\n\n  \n"))
    code, out, _ = run_validate([str(empty), str(blank)], capsys, caplog)
    assert (code, json.loads(out)) == (0, {"accepted": 0, "rejected": 0, "reasons": {}})


def test_last_line_without_newline_and_crlf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(
        line(example("admission")).replace(b"\n", b"\r\n") + line(example("discharge"))[:-1]
    )
    code, out, _ = run_validate([str(path)], capsys, caplog)
    assert (code, json.loads(out)["accepted"]) == (0, 2)


def corrupt_gzip(path: Path) -> None:
    data = gzip.compress(b"".join(line(e) for e in all_examples() * 50))
    path.write_bytes(data[: len(data) // 2])  # truncated stream


def bad_crc(path: Path) -> None:
    data = bytearray(gzip.compress(line(example("admission"))))
    data[-8] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "No such file or directory"),
        (corrupt_gzip, "corrupt gzip"),
        (bad_crc, "CRC check failed"),
        (lambda p: p.mkdir(), "Is a directory"),
    ],
)
def test_unreadable_file_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    make: Any,
    message: str,
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(line(example("admission")))
    bad = tmp_path / "bad.jsonl.gz"
    if make is not None:
        make(bad)
    code, out, err = run_validate([str(good), str(bad)], capsys, caplog)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("opsradar validate: cannot read ")
    assert str(bad) in err and message in err


def test_permission_denied_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "secret.jsonl"
    path.write_bytes(line(example("admission")))

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        # chmod 0 does not stop root, which runs these tests in CI: refuse at the call instead
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    code, out, err = run_validate([str(path)], capsys, caplog)
    assert (code, out) == (2, "")
    assert err == f"opsradar validate: cannot read {path}: Permission denied\n"


def test_errors_lists_each_rejected_event_with_file_line_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    identifying = example("admission", ward_code=canaries.NHS_NUMBER)
    first = tmp_path / "first.jsonl"
    first.write_bytes(
        line(example("admission"))  # 1: accepted
        + b"\n"  # 2: blank, still counted
        + line(identifying)  # 3
        + line([example("shift_unfilled"), example("shift_changed", change=canaries.EMAIL)])  # 4
        + b"not json %s\n" % canaries.PHONE_MOBILE.encode()  # 5
    )
    second = tmp_path / "second.jsonl.gz"
    second.write_bytes(
        gzip.compress(line(example("discharge", destination="home")) + line({"x": 1}))
    )
    code, out, err = run_validate(["--errors", str(first), str(second)], capsys, caplog)
    assert code == 0
    *errors, summary = out.splitlines()
    event_id = identifying["event_id"]
    assert errors == [
        f"{first}:3: nhs_number field=ward_code event_type=admission event_id={event_id}",
        f"{first}:4: email field=change event_type=shift_changed event_id={event_id}",
        f"{first}:5: phone",
        f"{second}:1: bad_enum field=destination event_type=discharge event_id={event_id}",
        f"{second}:2: missing_field field=event_type",
    ]
    assert json.loads(summary)["rejected"] == len(errors)
    assert canaries.leaked([out, err]) == []


def test_without_errors_the_output_is_only_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    lines, summary = mixed_file_lines()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    code, out, _ = run_validate([str(path)], capsys, caplog)
    assert (code, out) == (0, json.dumps(summary, separators=(",", ":")) + "\n")
    code, with_errors, _ = run_validate(["--errors", str(path)], capsys, caplog)
    assert with_errors.splitlines()[-1] == out.rstrip("\n")
    assert len(with_errors.splitlines()) == summary["rejected"] + 1
