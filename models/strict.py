"""The event types with their patterns enforced by msgspec: the published schema, and the
decode errors a rejection is explained by.

:mod:`models.events` marks a string field's pattern with :class:`~models.events.Pattern`, which
msgspec ignores, so that decoding a record costs one regex pass per pattern instead of one regex
call per string (:mod:`models.patterns`). :data:`STRICT` holds a twin of each event type (same
name, fields, tag and doc) whose patterns are msgspec ``Meta(pattern=...)``.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Final, Union, get_args, get_origin

import msgspec

from models.events import TOPIC_EVENT_TYPES, Event, Pattern

__all__ = ["STRICT", "STRICT_TOPIC_TYPES", "StrictEvent"]

_EVENT_TYPES: Final[tuple[type[Any], ...]] = get_args(Event)


def _enforced(annotation: Any) -> Any:
    """The annotation with each :class:`Pattern` marker turned into msgspec's pattern rule."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        rules = [msgspec.Meta(pattern=m.regex) if isinstance(m, Pattern) else m for m in metadata]
        return Annotated[(base, *rules)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_enforced(option) for option in get_args(annotation))]  # noqa: UP007
    if origin is dict:
        key, value = get_args(annotation)
        return dict[_enforced(key), _enforced(value)]  # type: ignore[misc]
    return annotation


def _strict_twin(cls: type[Any]) -> type[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (field.name, _enforced(hints[field.name]))
        if field.required
        else (field.name, _enforced(hints[field.name]), field.default)
        for field in msgspec.structs.fields(cls)
    ]
    config = cls.__struct_config__
    twin = msgspec.defstruct(
        cls.__name__,
        fields,
        module=cls.__module__,
        kw_only=True,
        frozen=True,
        forbid_unknown_fields=config.forbid_unknown_fields,
        tag_field=config.tag_field,
        tag=config.tag,
    )
    twin.__doc__ = cls.__doc__
    return twin


#: event type -> its twin with msgspec enforcing the patterns
STRICT: Final[dict[type[Any], type[Any]]] = {cls: _strict_twin(cls) for cls in _EVENT_TYPES}
#: the union of all strict twins (for a decoder of any topic)
StrictEvent: Any = Union[tuple(STRICT[cls] for cls in _EVENT_TYPES)]  # noqa: UP007
#: input topic -> the union of the strict twins of its event types
STRICT_TOPIC_TYPES: Final[dict[str, Any]] = {
    topic: Union[tuple(STRICT[cls] for cls in get_args(union))]  # noqa: UP007
    for topic, union in TOPIC_EVENT_TYPES.items()
}
