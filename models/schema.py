"""The contract as JSON Schema (Draft 2020-12): one document per input topic, generated from the
same Structs the validator decodes with (their twins of :mod:`models.strict`, where msgspec
states the patterns), so the two cannot drift.

A record value is one event object or an array of 1 to 10,000 of them. The schema accepts what the
validator accepts except for the rules no JSON Schema can state, listed in each document's
``$comment`` (:data:`NOT_IN_SCHEMA`).
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal, get_args, get_origin

import msgspec

from models.events import INPUT_TOPICS
from models.strict import STRICT_TOPIC_TYPES

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
MAX_BATCH_EVENTS: Final = 10_000

#: What the validator checks beyond the schema (and the one way the schema is wider).
NOT_IN_SCHEMA: Final = (
    "The validator also rejects, beyond this schema: "
    "identifiers (a 10-digit number passing the NHS number Modulus 11 check, plain, or 3-3-4 "
    "spaced, dashed, underscored or dotted; a UK postcode; an e-mail address; a UK phone "
    "number; a National Insurance number; a field named like an NHS number or a date of "
    "birth; a *_ref of decimal digits only); "
    "site_code not starting with trust_code; shift_planned with ends_at not after starts_at; "
    "roster_published with period_end before period_start; ambulance_handover with arrived_at "
    "after occurred_at; occurred_at more than 1 hour after "
    "the time of receipt or older than the consumer's horizon; a key repeated in one object; "
    "integers written with a fraction or exponent (1.0 is a JSON Schema integer, not ours)."
)


def schema_filename(topic: str) -> str:
    return f"{topic}.schema.json"


def _constrain_literal_keys(union: Any, components: dict[str, Any]) -> None:
    """msgspec leaves the keys of ``dict[Literal[...], ...]`` unconstrained in the schema, while
    its decoder enforces them (``counts`` keys are delay reasons): state them as propertyNames."""
    for struct in get_args(union):
        for field in msgspec.structs.fields(struct):
            if get_origin(field.type) is dict:
                key_type = get_args(field.type)[0]
                if get_origin(key_type) is Literal:
                    prop = components[struct.__name__]["properties"][field.encode_name]
                    prop["propertyNames"] = {"enum": sorted(get_args(key_type))}


def topic_schema(topic: str) -> dict[str, Any]:
    """The JSON Schema of a record value on ``topic``."""
    (union,), components = msgspec.json.schema_components(
        [STRICT_TOPIC_TYPES[topic]], ref_template="#/$defs/{name}"
    )
    _constrain_literal_keys(STRICT_TOPIC_TYPES[topic], components)
    return {
        "$schema": DIALECT,
        "$id": f"urn:opsradar:schema:{topic}",
        "title": topic,
        "description": (
            f"A record value on {topic}: one event, or a batch array of 1 to "
            f"{MAX_BATCH_EVENTS:,} events sharing the record key (site_code, else trust_code)."
        ),
        "$comment": NOT_IN_SCHEMA,
        "anyOf": [
            {"$ref": "#/$defs/Event"},
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_EVENTS,
                "items": {"$ref": "#/$defs/Event"},
            },
        ],
        "$defs": {"Event": union, **components},
    }


def render(schema: dict[str, Any]) -> str:
    """The published text of a schema (stable, so a test can compare it byte for byte)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def published_schemas() -> dict[str, str]:
    """File name -> text, for every input topic."""
    return {schema_filename(topic): render(topic_schema(topic)) for topic in INPUT_TOPICS}
