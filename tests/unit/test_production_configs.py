"""The production configurations, checked as far as this machine allows (no Docker engine, no cluster, no helm):
the instance that `etl dagster init` writes, and deploy/docker/dagster.yaml, pass Dagster's own schema of
dagster.yaml, each run launcher's and executor's config its class's schema; the Helm values name the roles
and settings the fleet has; the Kubernetes manifests are well-formed objects; compose's fleet profile starts
the webserver, the daemon, the storage, the broker and scalable workers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

from etl_lib.config.settings import PROJECT_ROOT, Settings
from etl_lib.orchestration.execution import executor_for
from etl_lib.orchestration.instance import instance_config, pool_limits

DEPLOY = PROJECT_ROOT / "deploy"


def validated(config: dict, home: Path) -> dict:
    """``config`` as Dagster validates a dagster.yaml (its launcher's class config included); raises if not."""
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    processed, _ = dagster_instance_config(str(home), config_filename="dagster.yaml")
    launcher = config.get("run_launcher")
    if launcher:
        module = __import__(launcher["module"], fromlist=[launcher["class"]])
        schema = getattr(module, launcher["class"]).config_type()
        result = process_config(schema, launcher.get("config", {}))
        assert result.success, result.errors
    return processed


def test_the_instance_of_etl_dagster_init_is_dagster_valid(tmp_path, monkeypatch):
    monkeypatch.setenv("ETL_DAGSTER_DATABASE_URL", "postgresql+psycopg2://etl:secret@dagster-db:5432/dagster")
    settings = Settings(dagster_max_concurrent_runs=3, dagster_run_retries=1)
    config = instance_config(settings)
    validated(config, tmp_path)
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "ETL_DAGSTER_DATABASE_URL"}  # no secret written
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 3
    assert config["run_retries"] == {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": False}
    assert pool_limits(settings) == {"source_api": 4, "target_database": 4}


def test_the_docker_run_launchers_instance_is_dagster_valid(tmp_path):
    config = yaml.safe_load((DEPLOY / "docker" / "dagster.yaml").read_text())
    validated(config, tmp_path)
    assert config["run_launcher"]["class"] == "DockerRunLauncher"
    names = set(config["run_launcher"]["config"]["env_vars"])
    known = {(field.validation_alias.choices[0]) for field in Settings.model_fields.values() if field.validation_alias}
    assert names - {"DAGSTER_HOME"} <= known, names - known


@pytest.mark.parametrize("kind", ["in_process", "multiprocess", "celery", "k8s", "docker"])
def test_every_executor_the_settings_name_builds(kind):
    executor = executor_for(Settings(dagster_executor=kind))
    assert executor.name in {"in_process", "multiprocess", "celery", "k8s", "docker"}


def test_the_helm_values_describe_the_fleet_on_kubernetes():
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "etl_lib.orchestration"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["ETL_DAGSTER_EXECUTOR"] == "k8s"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert daemon["runRetries"]["retryOnAssetOrOpFailure"] is False
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlDatabase"] == "dagster"
    # The launcher's config as the chart hands it to K8sRunLauncher validates against the class's schema.
    from dagster_k8s import K8sRunLauncher

    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    config = {
        "instance_config_map": "wind-etl-dagster-instance",  # the chart's own config map of dagster.yaml
        "env_secrets": [s["name"] for s in launcher["envSecrets"]],
        "run_k8s_config": {"container_config": launcher["runK8sConfig"]["containerConfig"]},
    }
    assert process_config(K8sRunLauncher.config_type(), config).success


def test_the_kubernetes_manifests_are_objects_with_the_settings_as_a_secret():
    documents = list(yaml.safe_load_all((DEPLOY / "k8s" / "manifests.yaml").read_text()))
    kinds = {doc["kind"]: doc for doc in documents}
    assert set(kinds) == {"Secret", "Job"}
    for doc in documents:
        assert doc["apiVersion"] and doc["metadata"]["name"]
    known = {(field.validation_alias.choices[0]) for field in Settings.model_fields.values() if field.validation_alias}
    assert set(kinds["Secret"]["stringData"]) <= known
    [container] = kinds["Job"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["etl", "dagster", "init"]
    assert container["envFrom"][0]["secretRef"]["name"] == kinds["Secret"]["metadata"]["name"]


def test_compose_fleet_profile_starts_every_role_and_scales_the_workers():
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    fleet = {name for name, service in services.items() if service.get("profiles") == ["fleet"]}
    assert fleet == {"dagster-db", "broker", "dagster-init", "webserver", "daemon", "worker"}
    worker = services["worker"]
    assert worker["command"] == ["etl", "dagster", "worker"]
    assert "ports" not in worker and "container_name" not in worker  # --scale worker=N
    for name in ("webserver", "daemon", "worker", "dagster-init"):
        assert services[name]["environment"]["ETL_DAGSTER_EXECUTOR"] == "celery"
    assert services["daemon"]["command"] == ["dagster-daemon", "run", "-m", "etl_lib.orchestration"]
    assert services["dagster-init"]["command"] == ["etl", "dagster", "init"]
