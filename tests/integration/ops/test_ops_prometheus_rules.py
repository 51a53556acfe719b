"""The alerting rules: `promtool check rules` is clean and `promtool test rules` passes.

promtool comes with Debian's `prometheus` package (2.42), which `deploy/stack.sh` installs. A
missing binary fails these tests; it never skips them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
TESTS_DIR = REPO / "deploy" / "prometheus" / "tests"
RULE_TESTS = TESTS_DIR / "opsradar_test.yml"

#: OPPORTUNITIES.md, "Alerts": the names are part of the product.
SPEC_ALERTS = {
    "OpsradarOpportunityEmerging",
    "OpsradarOpportunityActive",
    "OpsradarFeedSilent",
    "OpsradarRejectRateHigh",
    "OpsradarEventLagHigh",
    "OpsradarWorkerDown",
    # delivery (README, "Consistency"): a sink held by the database, records that failed
    "OpsradarSinkWritesFailing",
    "OpsradarSinkBacklog",
    "OpsradarRecordsFailing",
    "OpsradarFeedGap",
}
ROUTING_SEVERITIES = {"warning", "critical", "page"}
TEAMS = {"trust-ops", "platform"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: run `bash deploy/stack.sh install` "
            "(or `apt-get install prometheus`)",
            pytrace=False,
        )
    return path


def run_promtool(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def rule_files() -> list[Path]:
    files = sorted(RULES_DIR.glob("*.yml"))
    assert files, f"no rule files in {RULES_DIR}"
    return files


def alerting_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def test_promtool_check_rules_is_clean() -> None:
    result = run_promtool("check", "rules", *rule_files())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    result = run_promtool("test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_files_define_exactly_the_spec_alerts() -> None:
    assert {rule["alert"] for rule in alerting_rules()} == SPEC_ALERTS


def test_every_rule_file_is_under_unit_test() -> None:
    tested = {
        (TESTS_DIR / name).resolve()
        for name in yaml.safe_load(RULE_TESTS.read_text())["rule_files"]
    }
    assert tested == {path.resolve() for path in rule_files()}


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: rule["alert"])
def test_alert_has_routing_labels_and_actionable_annotations(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in ROUTING_SEVERITIES
    assert rule["labels"]["team"] in TEAMS
    assert "for" in rule, "every alert waits before firing"
    for key in ("summary", "description", "runbook", "dashboard"):
        assert rule["annotations"].get(key, "").strip(), f"{rule['alert']} lacks {key}"


def test_each_alert_has_a_firing_and_a_silent_case() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert firing == SPEC_ALERTS
    assert silent == SPEC_ALERTS


def test_unit_tests_catch_broken_rules(tmp_path: Path) -> None:
    """With every alert renamed in a copy of the rules, each alert's firing case must fail."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    for path in rule_files():
        text = path.read_text()
        for alert in SPEC_ALERTS:
            text = text.replace(f"alert: {alert}\n", f"alert: {alert}Renamed\n")
        (tmp_path / "rules" / path.name).write_text(text)
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)

    result = run_promtool("test", "rules", tmp_path / "tests" / RULE_TESTS.name, cwd=tmp_path)

    assert result.returncode != 0
    failures = result.stdout + result.stderr
    for alert in SPEC_ALERTS:
        assert f"alertname: {alert}," in failures, f"no failing case for a renamed {alert}"
