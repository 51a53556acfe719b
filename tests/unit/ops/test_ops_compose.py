"""docker-compose.yml and deploy/Dockerfile agree with the local stack and with the code.

Docker is not available here, so the compose file is checked, not run: what it mounts exists,
the Prometheus/Alertmanager/Grafana config is the local stack's, settings names are real fields
of streams/settings.py, and ports line up.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from streams.settings import Settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
STACK_SCRIPT = REPO / "deploy" / "stack.sh"
LOCAL_PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
COMPOSE_PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.compose.yml"
DATASOURCES = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "opsradar.yml"
DASHBOARD_PROVIDER = REPO / "deploy" / "grafana" / "provisioning" / "dashboards" / "opsradar.yml"

LONG_RUNNING = {"kafka", "postgres", "worker", "prometheus", "alertmanager", "grafana"}
ONE_SHOT = {"simulator"}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


COMPOSE_DOC: dict[str, Any] = _load(COMPOSE)
SERVICES: dict[str, dict[str, Any]] = COMPOSE_DOC["services"]


def _defaults(text: str) -> str:
    """Compose interpolation `${VAR:-default}` -> default (what runs without a .env file)."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def _env(service: str) -> dict[str, str]:
    return {k: _defaults(str(v)) for k, v in SERVICES[service].get("environment", {}).items()}


def _bind_mounts(service: str) -> dict[str, str]:
    """Container path -> repository path of each bind mount (relative sources only)."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = source
    return mounts


def _host_port(service: str) -> tuple[int, int]:
    """(host port, container port) of the service's single published port."""
    (mapping,) = SERVICES[service]["ports"]
    host_ip, host, container = mapping.split(":")
    assert host_ip == "127.0.0.1", f"{service} must publish on 127.0.0.1 only"
    return int(host), int(container)


def _stack_ports() -> dict[str, int]:
    """The local stack's default ports, from deploy/stack.sh (`KAFKA_PORT="${OPSRADAR_..:-N}"`)."""
    found = re.findall(r'^(\w+)_PORT="\$\{OPSRADAR_\w+:-(\d+)\}"', STACK_SCRIPT.read_text(), re.M)
    return {name: int(port) for name, port in found}


def _settings_port(url: str) -> int:
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    assert parts.port is not None
    return parts.port


# -- structure -------------------------------------------------------------------------------


def test_compose_has_the_services() -> None:
    assert set(SERVICES) == LONG_RUNNING | ONE_SHOT


def test_no_fixed_container_names() -> None:
    assert [name for name, service in SERVICES.items() if "container_name" in service] == []


@pytest.mark.parametrize("service", sorted(LONG_RUNNING))
def test_long_running_services_have_health_checks(service: str) -> None:
    check = SERVICES[service]["healthcheck"]
    assert check["test"], service
    assert check.get("interval") and check.get("retries"), service


def test_simulator_is_one_shot_and_feeds_kafka() -> None:
    simulator = SERVICES["simulator"]
    assert simulator["restart"] == "no"
    script = " ".join(simulator["command"])
    assert "opsradar simulate" in script and "opsradar produce" in script
    out = re.search(r"--out (\S+)", script)
    assert out is not None and f"opsradar produce --no-progress {out.group(1)}" in script


def test_dependencies_wait_for_health() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in SERVICES[dependency], (name, dependency)


def test_every_mounted_path_exists() -> None:
    mounts = [(name, src) for name in SERVICES for src in _bind_mounts(name).values()]
    assert mounts
    for name, source in mounts:
        assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_worker_image_builds_from_the_repository_dockerfile() -> None:
    for name in ("worker", "simulator"):
        build = SERVICES[name]["build"]
        assert (REPO / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert SERVICES["worker"]["image"] == SERVICES["simulator"]["image"]


# -- the same config files as the local stack ------------------------------------------------


def test_prometheus_uses_the_repository_rules_and_compose_config() -> None:
    mounts = _bind_mounts("prometheus")
    assert mounts["/etc/prometheus/rules"] == "./deploy/prometheus/rules"
    assert (REPO / mounts["/etc/prometheus/prometheus.yml"]).resolve() == COMPOSE_PROMETHEUS
    # the local stack's config loads rules/*.yml next to itself: the same directory
    assert _load(LOCAL_PROMETHEUS)["rule_files"] == ["rules/*.yml"]
    assert _load(COMPOSE_PROMETHEUS)["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_prometheus_configs_agree_on_jobs_and_intervals() -> None:
    local, compose = _load(LOCAL_PROMETHEUS), _load(COMPOSE_PROMETHEUS)
    assert compose["global"] == local["global"]
    local_jobs = {job["job_name"]: job for job in local["scrape_configs"]}
    compose_jobs = {job["job_name"]: job for job in compose["scrape_configs"]}
    assert set(compose_jobs) == set(local_jobs)
    assert "opsradar-worker" in compose_jobs
    assert (
        compose_jobs["opsradar-worker"]["metrics_path"]
        == local_jobs["opsradar-worker"]["metrics_path"]
    )


def test_compose_prometheus_finds_workers_and_alertmanager_by_service_name() -> None:
    compose = _load(COMPOSE_PROMETHEUS)
    (sd,) = {job["job_name"]: job for job in compose["scrape_configs"]}["opsradar-worker"][
        "dns_sd_configs"
    ]
    assert sd["names"] == ["worker"]
    assert sd["port"] == int(_env("worker")["OPSRADAR_WEB_PORT"]) == Settings().web_port
    (alertmanagers,) = compose["alerting"]["alertmanagers"]
    container_port = _host_port("alertmanager")[1]
    assert alertmanagers["static_configs"][0]["targets"] == [f"alertmanager:{container_port}"]


def test_alertmanager_uses_the_repository_config_like_the_local_stack() -> None:
    mounts = _bind_mounts("alertmanager")
    assert mounts["/etc/alertmanager/alertmanager.yml"] == "./deploy/alertmanager/alertmanager.yml"
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in SERVICES["alertmanager"]["command"]
    assert 'AM_CONF="$DEPLOY/alertmanager/alertmanager.yml"' in STACK_SCRIPT.read_text()


def test_grafana_mounts_provisioning_and_dashboards_where_the_provider_looks() -> None:
    mounts = _bind_mounts("grafana")
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = _load(DASHBOARD_PROVIDER)["providers"][0]
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    home = _env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (REPO / "deploy" / "grafana" / "dashboards" / Path(home).name).exists()


def test_grafana_environment_provides_every_datasource_variable() -> None:
    referenced: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            referenced.update(re.findall(r"\$\{?(\w+)\}?", node))

    walk(_load(DATASOURCES))
    assert referenced
    env = _env("grafana")
    assert referenced <= set(env), f"unset: {referenced - set(env)}"
    assert urlsplit(env["PROMETHEUS_URL"]).hostname == "prometheus"
    assert urlsplit(env["PROMETHEUS_URL"]).port == _host_port("prometheus")[1]
    host, port = env["ANALYST_DB_HOST"].split(":")
    assert host == "postgres" and int(port) == _host_port("postgres")[1]
    assert env["ANALYST_DB_NAME"] == _env("postgres")["POSTGRES_DB"]


# -- settings and ports ----------------------------------------------------------------------


@pytest.mark.parametrize("service", ["worker", "simulator"])
def test_opsradar_environment_names_are_settings_fields(service: str) -> None:
    names = [name for name in _env(service) if name.startswith("OPSRADAR_")]
    assert names
    fields = {f"OPSRADAR_{field.upper()}" for field in Settings.model_fields}
    assert set(names) <= fields, f"not settings: {set(names) - fields}"
    # and the settings parse (types and all)
    parsed = Settings.model_validate(
        {n.removeprefix("OPSRADAR_").lower(): v for n, v in _env(service).items() if n in names}
    )
    assert parsed.kafka_bootstrap == "kafka:9092"


def test_no_other_service_uses_opsradar_names() -> None:
    for name in LONG_RUNNING - {"worker"}:
        assert not [n for n in _env(name) if n.startswith("OPSRADAR_")], name


def test_worker_settings_point_at_the_compose_services() -> None:
    env = _env("worker")
    kafka_host, kafka_port = env["OPSRADAR_KAFKA_BOOTSTRAP"].split(":")
    assert kafka_host == "kafka"
    assert f"PLAINTEXT://:{kafka_port}" in _env("kafka")["KAFKA_LISTENERS"]
    db = urlsplit(env["OPSRADAR_DATABASE_URL"])
    postgres = _env("postgres")
    assert (db.hostname, db.port) == ("postgres", _host_port("postgres")[1])
    assert (db.username, db.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert db.path == f"/{postgres['POSTGRES_DB']}"
    assert urlsplit(env["OPSRADAR_PROMETHEUS_URL"]).hostname == "prometheus"
    assert env["OPSRADAR_WEB_HOST"] == "0.0.0.0"  # reachable by Prometheus from its container
    assert "16066" in str(SERVICES["worker"]["healthcheck"]["test"])
    assert SERVICES["worker"]["expose"] == [env["OPSRADAR_WEB_PORT"]]
    assert "ports" not in SERVICES["worker"], "a host port would stop --scale"


def test_host_ports_are_the_local_stack_ports() -> None:
    stack = _stack_ports()
    settings = Settings()
    assert _host_port("kafka")[0] == stack["KAFKA"] == _settings_port(settings.kafka_bootstrap)
    assert _host_port("postgres")[0] == stack["PG"] == _settings_port(settings.database_url)
    assert _host_port("prometheus")[0] == stack["PROM"] == _settings_port(settings.prometheus_url)
    assert _host_port("alertmanager")[0] == stack["AM"]
    local_am = _load(LOCAL_PROMETHEUS)["alerting"]["alertmanagers"][0]["static_configs"][0]
    assert local_am["targets"] == [f"127.0.0.1:{stack['AM']}"]
    # the advertised host listener is the published one
    assert f"HOST://127.0.0.1:{stack['KAFKA']}" in _env("kafka")["KAFKA_ADVERTISED_LISTENERS"]


def test_prometheus_and_alertmanager_images_match_the_tested_versions() -> None:
    """promtool 2.42 / amtool 0.25 (Debian) test the rules and config; run the same versions."""
    assert SERVICES["prometheus"]["image"] == "prom/prometheus:v2.42.0"
    assert SERVICES["alertmanager"]["image"] == "prom/alertmanager:v0.25.0"
    assert SERVICES["kafka"]["image"] == "apache/kafka:4.1.1"
    assert SERVICES["postgres"]["image"].split(":")[1].startswith("15")


# -- the image -------------------------------------------------------------------------------


def test_dockerfile_installs_the_package_and_runs_migrations_then_the_worker() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", text, re.M)
    assert entrypoint is not None
    assert "opsradar db upgrade && exec opsradar worker" in entrypoint.group(1)


def test_dockerfile_copies_every_package_and_file_the_build_needs() -> None:
    text = DOCKERFILE.read_text()
    copied = {src for line in re.findall(r"^COPY (.+)$", text, re.M) for src in line.split()[:-1]}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied
    assert {"pyproject.toml", project["project"]["readme"]} <= copied
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: missing in the repository"
