"""The Alertmanager config: `amtool check-config`, routing cases, and inhibition on the live stack.

amtool comes with Debian's `prometheus-alertmanager` package (0.25), which `deploy/stack.sh`
installs. A missing binary or a stopped Alertmanager fails these tests; nothing skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tcp

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
# deploy/stack.sh listens here (it reads the same variable)
ALERTMANAGER = f"127.0.0.1:{os.environ.get('OPSRADAR_ALERTMANAGER_PORT', '19094')}"

EXAMPLE_TRUSTS = ("RZ1", "RZ2")

# (case id, labels of the alert, receivers it must reach, in amtool's order)
ROUTING_CASES: list[tuple[str, dict[str, str], list[str]]] = [
    (
        "emerging-to-its-trust",
        {
            "alertname": "OpsradarOpportunityEmerging",
            "severity": "warning",
            "team": "trust-ops",
            "trust": "RZ1",
            "site": "RZ101",
            "kind": "dna_reduction",
        },
        ["trust-RZ1"],
    ),
    (
        "active-to-its-trust",
        {
            "alertname": "OpsradarOpportunityActive",
            "severity": "critical",
            "team": "trust-ops",
            "trust": "RZ2",
            "site": "RZ201",
            "kind": "discharge_coordination",
        },
        ["trust-RZ2"],
    ),
    (
        "trust-scope-opportunity-without-site",
        {
            "alertname": "OpsradarOpportunityActive",
            "severity": "critical",
            "team": "trust-ops",
            "trust": "RZ1",
            "kind": "care_transfer_referral_automation",
        },
        ["trust-RZ1"],
    ),
    (
        "trust-without-receiver-to-default",
        {
            "alertname": "OpsradarOpportunityActive",
            "severity": "critical",
            "team": "trust-ops",
            "trust": "RZ9",
            "site": "RZ901",
            "kind": "dna_reduction",
        },
        ["opsradar-default"],
    ),
    (
        "feed-silence-to-platform-and-trust",
        {
            "alertname": "OpsradarFeedSilent",
            "severity": "warning",
            "team": "trust-ops",
            "trust": "RZ2",
            "site": "RZ202",
            "job": "opsradar-worker",
        },
        ["opsradar-platform", "trust-RZ2"],
    ),
    (
        # a matching `continue` route counts as a match: the default receiver is not added
        "feed-silence-of-unknown-trust-to-platform-only",
        {
            "alertname": "OpsradarFeedSilent",
            "severity": "warning",
            "team": "trust-ops",
            "trust": "RZ9",
            "site": "RZ901",
            "job": "opsradar-worker",
        },
        ["opsradar-platform"],
    ),
    (
        "reject-rate-to-platform",
        {
            "alertname": "OpsradarRejectRateHigh",
            "severity": "warning",
            "team": "platform",
            "topic": "nhs.bedflow.v1",
            "job": "opsradar-worker",
        },
        ["opsradar-platform"],
    ),
    (
        "event-lag-to-platform",
        {
            "alertname": "OpsradarEventLagHigh",
            "severity": "warning",
            "team": "platform",
            "topic": "nhs.bedflow.v1",
            "job": "opsradar-worker",
            "instance": "127.0.0.1:16066",
        },
        ["opsradar-platform"],
    ),
    (
        "one-worker-down-to-platform",
        {
            "alertname": "OpsradarWorkerDown",
            "severity": "critical",
            "team": "platform",
            "job": "opsradar-worker",
            "instance": "127.0.0.1:16066",
        },
        ["opsradar-platform"],
    ),
    (
        "no-worker-pages-oncall",
        {
            "alertname": "OpsradarWorkerDown",
            "severity": "page",
            "team": "platform",
            "job": "opsradar-worker",
        },
        ["opsradar-oncall"],
    ),
    (
        "a-page-with-a-trust-still-pages",
        {"alertname": "SomethingElse", "severity": "page", "trust": "RZ1"},
        ["opsradar-oncall"],
    ),
    ("unlabelled-alert-to-default", {"alertname": "SomethingElse"}, ["opsradar-default"]),
]


def amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.fail(
            "amtool is not installed: run `bash deploy/stack.sh install` "
            "(or `apt-get install prometheus-alertmanager`)",
            pytrace=False,
        )
    return path


def routes_test(labels: dict[str, str], receivers: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            amtool(),
            "config",
            "routes",
            "test",
            f"--config.file={CONFIG}",
            f"--verify.receivers={','.join(receivers)}",
            *(f"{name}={value}" for name, value in labels.items()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def test_amtool_check_config_is_clean() -> None:
    result = subprocess.run(
        [amtool(), "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [case[1:] for case in ROUTING_CASES],
    ids=[case[0] for case in ROUTING_CASES],
)
def test_alert_routes_to_receivers(labels: dict[str, str], receivers: list[str]) -> None:
    result = routes_test(labels, receivers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ",".join(receivers)


def test_routing_check_bites() -> None:
    """A wrong expectation must make amtool fail, or the cases above prove nothing."""
    labels = {"alertname": "OpsradarOpportunityActive", "severity": "critical", "trust": "RZ1"}
    result = routes_test(labels, ["trust-RZ2"])
    assert result.returncode != 0
    assert "did not match" in result.stdout + result.stderr


def test_every_receiver_is_reached_by_a_case() -> None:
    reached = {receiver for case in ROUTING_CASES for receiver in case[2]}
    assert {receiver["name"] for receiver in config()["receivers"]} == reached


def test_every_example_trust_has_its_own_receiver() -> None:
    names = {receiver["name"] for receiver in config()["receivers"]}
    for trust in EXAMPLE_TRUSTS:
        assert f"trust-{trust}" in names


def test_receivers_integrations_stay_on_this_machine() -> None:
    """Placeholders only: a shipped config must not notify anything real."""
    for receiver in config()["receivers"]:
        integrations = {key for key in receiver if key.endswith("_configs")}
        assert integrations <= {"webhook_configs"}, receiver["name"]
        for hook in receiver.get("webhook_configs", []):
            assert urllib.parse.urlsplit(hook["url"]).hostname == "127.0.0.1"


def test_every_alert_rule_routes_somewhere_specific_for_an_onboarded_trust() -> None:
    """Ties the two files: each rule's own labels, for trust RZ1, avoid the default receiver."""
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                labels = {"alertname": rule["alert"], **rule["labels"], "trust": "RZ1"}
                if rule["labels"]["team"] == "platform":
                    labels.pop("trust")
                result = routes_test(labels, ["opsradar-default"])
                assert result.returncode != 0, f"{rule['alert']} only reaches the default"


def test_inhibit_rules_match_the_spec() -> None:
    rules = config()["inhibit_rules"]
    pairs = {
        (tuple(rule["source_matchers"]), tuple(rule["target_matchers"])): rule["equal"]
        for rule in rules
    }
    assert pairs[
        (('alertname="OpsradarOpportunityActive"',), ('alertname="OpsradarOpportunityEmerging"',))
    ] == ["trust", "site", "kind"]
    assert pairs[(('alertname="OpsradarWorkerDown"',), ('alertname="OpsradarFeedSilent"',))] == [
        "job"
    ]
    for rule in rules:
        assert rule["equal"], "an inhibit rule without `equal` mutes every matching alert"


# -- live Alertmanager (deploy/stack.sh up) --------------------------------------------------


def _api(path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://{ALERTMANAGER}/api/v2/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def test_running_alertmanager_uses_this_config() -> None:
    require_tcp("Alertmanager", ALERTMANAGER)
    running = yaml.safe_load(_api("status")["config"]["original"])
    assert {r["name"] for r in running["receivers"]} == {
        r["name"] for r in config()["receivers"]
    }, "the running Alertmanager has another config: run `bash deploy/stack.sh up` to reload it"


def test_inhibition_on_the_running_alertmanager() -> None:
    require_tcp("Alertmanager", ALERTMANAGER)
    run = uuid.uuid4().hex[:8]
    kind, job = f"test_kind_{run}", f"opsradar-worker-test-{run}"
    now = datetime.now(UTC)
    window = {
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=3)).isoformat(),
    }
    opportunity = {"trust": "RZ9", "site": "RZ901", "kind": kind, "team": "trust-ops"}
    alerts = {
        "active": {"alertname": "OpsradarOpportunityActive", "severity": "critical", **opportunity},
        "emerging": {
            "alertname": "OpsradarOpportunityEmerging",
            "severity": "warning",
            **opportunity,
        },
        "emerging-other-site": {
            "alertname": "OpsradarOpportunityEmerging",
            "severity": "warning",
            **opportunity,
            "site": "RZ902",
        },
        "worker-down": {
            "alertname": "OpsradarWorkerDown",
            "severity": "critical",
            "team": "platform",
            "job": job,
            "instance": "127.0.0.1:1",
        },
        "silent": {
            "alertname": "OpsradarFeedSilent",
            "severity": "warning",
            "team": "trust-ops",
            "trust": "RZ9",
            "site": "RZ901",
            "job": job,
        },
        "silent-other-job": {
            "alertname": "OpsradarFeedSilent",
            "severity": "warning",
            "team": "trust-ops",
            "trust": "RZ9",
            "site": "RZ901",
            "job": f"{job}-other",
        },
    }
    _api("alerts", [{"labels": labels, **window} for labels in alerts.values()])

    def states() -> dict[str, str]:
        query = urllib.parse.urlencode({"active": "true", "inhibited": "true"})
        found = {}
        for alert in _api(f"alerts?{query}"):
            for name, labels in alerts.items():
                if alert["labels"] == labels:
                    found[name] = "inhibited" if alert["status"]["inhibitedBy"] else "active"
        return found

    expected = {
        "active": "active",
        "emerging": "inhibited",
        "emerging-other-site": "active",
        "worker-down": "active",
        "silent": "inhibited",
        "silent-other-job": "active",
    }
    deadline = time.monotonic() + 20
    seen = states()
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = states()
    assert seen == expected
