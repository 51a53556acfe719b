"""The published JSON Schemas: fresh, valid Draft 2020-12, and agreeing with the validator."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from models.decoding import RecordDecoder
from models.events import INPUT_TOPICS, MAX_NUMBER
from models.schema import published_schemas, schema_filename, topic_schema
from streams.cli import main
from tests.unit.contract import canaries
from tests.unit.contract.examples import NOW, TOPICS, example
from tests.unit.contract.legit_events import LegitEvents

pytestmark = pytest.mark.unit

PUBLISHED = Path(__file__).resolve().parents[3] / "schemas"
SCHEMAS = {topic: Draft202012Validator(topic_schema(topic)) for topic in INPUT_TOPICS}
DECODERS = {topic: RecordDecoder(topic, past_horizon=None) for topic in INPUT_TOPICS}


def test_published_schemas_are_fresh() -> None:
    for name, text in published_schemas().items():
        path = PUBLISHED / name
        assert path.is_file(), f"{path} is missing: run `opsradar schema --out schemas`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run `opsradar schema --out schemas`"
        )
    assert sorted(p.name for p in PUBLISHED.glob("*.json")) == sorted(published_schemas())


def test_schema_command_writes_one_file_per_topic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "--out", str(tmp_path / "out")]) == 0
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir()}
    assert written == published_schemas()
    assert set(written) == {schema_filename(t) for t in INPUT_TOPICS}
    assert capsys.readouterr().out.count(".schema.json") == len(INPUT_TOPICS)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_schemas_are_valid_draft_2020_12(topic: str) -> None:
    schema = topic_schema(topic)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def schema_accepts(topic: str, value: Any) -> bool:
    return SCHEMAS[topic].is_valid(value)


def validator_accepts(topic: str, value: Any) -> bool:
    record = DECODERS[topic].decode(json.dumps(value).encode(), now=NOW)
    return not record.rejections


CODE_FIELDS = {
    "event_id", "trust_code", "site_code", "source_system", "ward_code", "from_ward_code",
    "to_ward_code", "unit_code", "spell_ref", "shift_ref", "referral_ref", "specialty_code",
}  # fmt: skip
ENUM_FIELDS = {
    "admission_method", "reason", "destination", "staff_group", "fill_source", "change",
    "reason_category", "priority", "source", "outcome", "attendance_type", "result", "period",
}  # fmt: skip
INT_FIELDS = {
    "beds_open", "beds_escalation", "nctr_patients", "discharged_total", "discharged_by_1700",
    "ga_beds_available", "ga_beds_occupied",
}  # fmt: skip
FLOAT_FIELDS = {"hourly_rate_gbp", "notice_hours"}
DATE_FIELDS = {"period_start", "period_end", "report_date"}
TIME_FIELDS = {"occurred_at", "starts_at", "ends_at", "appointment_at", "arrived_at"}

MUTANTS: dict[str, list[Any]] = {
    "code": ["", "!", "lower case", "\u00c9", None, 7],
    "code_suffix": ["\n", " ", "Z" * 70],
    "enum": ["not_a_value", "", None, 1],
    "int": [-1, MAX_NUMBER + 1, "1", True, None, 2.5],
    "float": [-0.5, MAX_NUMBER + 1.0, "1.5", None, False],
    "date": ["2026-02-30", "2026-1-5", "20260105", "2026-01-05T00:00:00Z", 20260105],
    "time": ["2026-01-05T08:15:00", "2026-01-05T24:00:00Z", "2026-01-05", "2026-01-05T08:15Z", 0],
    "schema_version": [2, "1", 0, None],
    "event_type": ["nope", None, 3],
    "counts": [{"not_a_reason": 1}, {"hub_referrals": -1}, {"hub_referrals": "1"}, [], None],
}


def mutations(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every single-field change this test knows for the event, each named."""
    out: list[tuple[str, dict[str, Any]]] = []
    for key, value in event.items():
        kind = (
            "code" if key in CODE_FIELDS
            else "enum" if key in ENUM_FIELDS
            else "int" if key in INT_FIELDS
            else "float" if key in FLOAT_FIELDS
            else "date" if key in DATE_FIELDS
            else "time" if key in TIME_FIELDS
            else key
        )  # fmt: skip
        for mutant in MUTANTS.get(kind, []):
            out.append((f"{key}={mutant!r}", {**copy.deepcopy(event), key: mutant}))
        if kind == "code":
            for suffix in MUTANTS["code_suffix"]:
                out.append((f"{key}+{suffix!r}", {**copy.deepcopy(event), key: value + suffix}))
        dropped = copy.deepcopy(event)
        del dropped[key]
        out.append((f"without {key}", dropped))
    out.append(("unknown field", {**copy.deepcopy(event), "comment": "x"}))
    return out


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 3), data=st.data())
def test_schema_and_validator_agree_on_generated_events_and_their_mutations(
    seed: int, batch: int, data: st.DataObject
) -> None:
    source = LegitEvents(seed)
    event = source.event()
    topic = TOPICS[event["event_type"]]
    assert schema_accepts(topic, event) and validator_accepts(topic, event)
    same_topic = [event] + [source.event(event["event_type"]) for _ in range(batch - 1)]
    assert schema_accepts(topic, same_topic) and validator_accepts(topic, same_topic)
    changed = mutations(event)
    for name, mutant in changed:
        verdicts = (schema_accepts(topic, mutant), validator_accepts(topic, mutant))
        assert verdicts[0] == verdicts[1], (name, verdicts)
    # inside a batch, one bad event spoils the schema's verdict and is the validator's one rejection
    name, mutant = data.draw(st.sampled_from(changed))
    in_batch = [*same_topic, mutant]
    assert schema_accepts(topic, in_batch) == validator_accepts(topic, in_batch), name


def test_most_mutations_are_rejections() -> None:
    event = example("absence_reported")
    verdicts = [schema_accepts("nhs.rostering.v1", m) for _, m in mutations(event)]
    # only dropping an optional field (source_system, shift_ref) or nulling one may pass
    assert verdicts.count(True) <= 4
    assert len(verdicts) > 50


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_batch_bounds_agree(topic: str) -> None:
    assert not schema_accepts(topic, []) and not validator_accepts(topic, [])
    batch = topic_schema(topic)["anyOf"][1]
    # validating 10,001 events with jsonschema takes seconds: the bound is read, not exercised
    assert (batch["minItems"], batch["maxItems"]) == (1, 10_000)
    event = next(example(t) for t, owner in TOPICS.items() if owner == topic)
    assert validator_accepts(topic, [event] * 10_000)
    assert not validator_accepts(topic, [event] * 10_001)


@pytest.mark.parametrize(
    ("why", "event"),
    [
        ("site outside trust", example("admission", site_code="RXX22")),
        ("shift ends first", example("shift_planned", ends_at="2026-01-06T07:00:00Z")),
        ("roster reversed", example("roster_published", period_end="2026-02-01")),
        ("future", example("admission", occurred_at="2026-01-06T00:00:00Z")),
        ("identifier in a code", example("admission", ward_code=canaries.NHS_NUMBER)),
        ("postcode in a code", example("admission", ward_code=canaries.POSTCODE_COMPACT)),
        ("numeric ref", example("admission", spell_ref="1" * 20)),
        ("integer written as float", example("ward_capacity", beds_open=28.0)),
    ],
)
def test_documented_exceptions_are_the_only_disagreements(why: str, event: dict[str, Any]) -> None:
    """What the schema cannot say (its $comment lists these): the schema accepts, we reject."""
    topic = TOPICS[event["event_type"]]
    assert schema_accepts(topic, event), why
    assert not validator_accepts(topic, event), why
