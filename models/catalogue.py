"""The bottleneck catalogue: kinds, triggers, lifecycle parameters and impact assumptions.

The defaults live in ``catalogue.toml`` beside this module, each with its derivation. A trust may
override any of them per scope (a site code, or a trust code for all its sites) from a TOML or
YAML file::

    [scopes."RJ122".discharge_coordination]
    nctr_share_threshold = 0.4          # <condition name>_threshold, <condition name>_min_sample
    persistence_hours = 48              # persistence_hours / _daily_reports / _periodic_reports
    nctr_share_line = 0.4               # any impact assumption, by its name
    [scopes."RJ1".lifecycle]
    hysteresis_ratio = 0.85

Unknown scopes' keys raise ``CatalogueError``: a typo in an override must not pass silently.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from models.outputs import Domain

Op = Literal[">=", ">", "<", "<="]
Combine = Literal["any", "all"]

CATALOGUE_FILE: Final = "catalogue.toml"


class CatalogueError(ValueError):
    """The catalogue or an override file is malformed."""


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    """One comparison of a metric against a threshold, counted only above a minimum sample."""

    name: str
    metric: str
    op: Op
    threshold: float
    min_sample: int
    sample: str
    derivation: str
    # the metric that plays this role at a sitrep scope, when it is named differently
    sitrep_metric: str | None = None
    # the line at a sitrep scope, when its metric is another statistic (a trust's monthly
    # all-patient share against a site's 7-day share of some patients) with its own derivation
    sitrep_threshold: float | None = None

    @property
    def above(self) -> bool:
        """True when a high value is the bad direction."""
        return self.op in (">=", ">")

    def holds(self, value: float, threshold: float | None = None) -> bool:
        limit = self.threshold if threshold is None else threshold
        if self.op == ">=":
            return value >= limit
        if self.op == ">":
            return value > limit
        if self.op == "<":
            return value < limit
        return value <= limit

    def metric_for(self, sitrep: bool) -> str:
        return (self.sitrep_metric or self.metric) if sitrep else self.metric

    def for_source(self, sitrep: bool) -> Condition:
        """The condition as a sitrep scope (``sitrep``) or an event scope judges it."""
        if sitrep and self.sitrep_threshold is not None:
            return msgspec.structs.replace(self, threshold=self.sitrep_threshold)
        return self


class KindSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of bottleneck: its trigger, persistence, intervention and impact assumptions."""

    kind: str
    domain: Domain
    intervention: str
    combine: Combine
    conditions: tuple[Condition, ...]
    gates: tuple[Condition, ...] = ()
    #: conditions on a forecast of the trigger: while one holds (and the trigger does not) the
    #: kind is ``emerging``; they never make it active or keep it so
    leading: tuple[Condition, ...] = ()
    persistence_hours: int = 24
    persistence_daily_reports: int = 7
    persistence_periodic_reports: int = 3
    impact: dict[str, float] = msgspec.field(default_factory=dict)
    impact_formula: str = ""

    def metrics(self, sitrep: bool = False) -> tuple[str, ...]:
        return tuple(c.metric_for(sitrep) for c in (*self.conditions, *self.gates, *self.leading))


class Lifecycle(msgspec.Struct, frozen=True, kw_only=True):
    """Parameters shared by every kind's status lifecycle (see ``catalogue.toml``)."""

    hysteresis_ratio: float = 0.9
    resolve_after_evaluations: int = 3
    emerging_sigma: float = 3.0
    baseline_days: int = 28
    baseline_min_days: int = 7
    trend_days: int = 7
    trend_min_days: int = 5
    projection_days: int = 7
    emerging_min_fraction: float = 0.8
    sigma_floor_fraction: float = 0.1
    capacity_severity_boost: float = 0.2
    snapshot_every_hours: int = 24


class ScopeCatalogue(msgspec.Struct, frozen=True, kw_only=True):
    """The catalogue as it applies to one scope, overrides resolved."""

    version: str
    lifecycle: Lifecycle
    kinds: dict[str, KindSpec]


class Catalogue:
    """The defaults plus a trust's per-scope overrides."""

    def __init__(
        self,
        version: str,
        lifecycle: Lifecycle,
        kinds: dict[str, KindSpec],
        overrides: dict[str, dict[str, dict[str, Any]]] | None = None,
    ) -> None:
        self.version = version
        self.lifecycle = lifecycle
        self.kinds = kinds
        self.overrides = overrides or {}
        self._default = ScopeCatalogue(version=version, lifecycle=lifecycle, kinds=kinds)
        self._cache: dict[tuple[str, str | None], ScopeCatalogue] = {}
        for scope, sections in self.overrides.items():
            # Fail at load time, not at the first event of the mistyped scope.
            _apply(self._default, sections, scope)

    def for_scope(self, trust_code: str, site_code: str | None) -> ScopeCatalogue:
        """The catalogue for a scope: trust-level overrides first, then the site's own."""
        key = (trust_code, site_code)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        resolved = self._default
        for scope in (trust_code, site_code):
            if scope is not None and scope in self.overrides:
                resolved = _apply(resolved, self.overrides[scope], scope)
        self._cache[key] = resolved
        return resolved


def _apply(base: ScopeCatalogue, sections: dict[str, Any], scope: str) -> ScopeCatalogue:
    lifecycle = base.lifecycle
    kinds = dict(base.kinds)
    for section, values in sections.items():
        if not isinstance(values, dict):
            raise CatalogueError(f"scopes.{scope}.{section}: expected a table of settings")
        if section == "lifecycle":
            unknown = set(values) - set(Lifecycle.__struct_fields__)
            if unknown:
                raise CatalogueError(
                    f"scopes.{scope}.lifecycle: unknown settings {sorted(unknown)}"
                )
            lifecycle = msgspec.structs.replace(lifecycle, **values)
            continue
        if section not in kinds:
            raise CatalogueError(f"scopes.{scope}: unknown kind {section!r}")
        kinds[section] = _override_kind(kinds[section], values, f"scopes.{scope}.{section}")
    return ScopeCatalogue(version=base.version, lifecycle=lifecycle, kinds=kinds)


def _override_kind(spec: KindSpec, values: dict[str, Any], where: str) -> KindSpec:
    conditions = {c.name: c for c in (*spec.conditions, *spec.gates, *spec.leading)}
    changed: dict[str, dict[str, Any]] = {}
    impact = dict(spec.impact)
    top: dict[str, Any] = {}
    for key, value in values.items():
        name, attr = "", ""
        if key.endswith("_sitrep_threshold") and key[: -len("_sitrep_threshold")] in conditions:
            name, attr = key[: -len("_sitrep_threshold")], "sitrep_threshold"
        elif key.endswith("_threshold") and key[: -len("_threshold")] in conditions:
            name, attr = key[: -len("_threshold")], "threshold"
        elif key.endswith("_min_sample") and key[: -len("_min_sample")] in conditions:
            name, attr = key[: -len("_min_sample")], "min_sample"
        elif key in (
            "persistence_hours",
            "persistence_daily_reports",
            "persistence_periodic_reports",
        ):
            top[key] = int(value)
            continue
        elif key in impact:
            impact[key] = float(value)
            continue
        else:
            raise CatalogueError(f"{where}: unknown setting {key!r}")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise CatalogueError(f"{where}.{key}: expected a number, got {value!r}")
        changed.setdefault(name, {})[attr] = int(value) if attr == "min_sample" else float(value)

    def patched(group: tuple[Condition, ...]) -> tuple[Condition, ...]:
        return tuple(msgspec.structs.replace(c, **changed.get(c.name, {})) for c in group)

    return msgspec.structs.replace(
        spec,
        conditions=patched(spec.conditions),
        gates=patched(spec.gates),
        leading=patched(spec.leading),
        impact=impact,
        **top,
    )


def _parse_defaults(raw: dict[str, Any]) -> tuple[str, Lifecycle, dict[str, KindSpec]]:
    try:
        version = str(raw["catalogue_version"])
        lifecycle = msgspec.convert(raw.get("lifecycle", {}), Lifecycle)
        kinds = {
            name: msgspec.convert({**body, "kind": name}, KindSpec)
            for name, body in raw["kinds"].items()
        }
    except (KeyError, msgspec.ValidationError) as error:
        raise CatalogueError(f"catalogue defaults: {error}") from error
    return version, lifecycle, kinds


def _read_mapping(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml  # only override files may be YAML; the defaults are TOML

        loaded = yaml.safe_load(text) or {}
    else:
        loaded = tomllib.loads(text)
    if not isinstance(loaded, dict):
        raise CatalogueError(f"{path}: expected a mapping at the top level")
    return loaded


def default_catalogue_text() -> str:
    return resources.files("models").joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The packaged defaults, with the per-scope overrides of ``path`` (TOML or YAML) if given."""
    version, lifecycle, kinds = _parse_defaults(tomllib.loads(default_catalogue_text()))
    overrides: dict[str, dict[str, dict[str, Any]]] = {}
    if path is not None:
        raw = _read_mapping(path)
        unknown = set(raw) - {"scopes"}
        if unknown:
            raise CatalogueError(
                f"{path}: unknown top-level keys {sorted(unknown)} (use [scopes.X])"
            )
        scopes = raw.get("scopes", {})
        if not isinstance(scopes, dict):
            raise CatalogueError(f"{path}: [scopes] must be a table")
        overrides = {str(scope): dict(body) for scope, body in scopes.items()}
    return Catalogue(version, lifecycle, kinds, overrides)
