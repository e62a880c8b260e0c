"""The compose deployment, checked without a Docker engine: the compose CLI accepts the file, the services
that docs/deployment.md names exist, variable names and ports agree with the settings object and
``.env.example``, the API's container command is the embedded stack's, and the Dockerfile is slim.
(The role script and the services' commands on a real PostgreSQL: tests/integration/test_deployment.py.)"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from etl_lib.config.settings import API_READER_ROLE, PROJECT_ROOT, Settings
from etl_lib.ops.embedded_postgres import DATABASES
from etl_lib.ops.stack import api_command

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
ROLE_SCRIPT = PROJECT_ROOT / "deploy" / "source-initdb" / "10-api-reader.sh"
DEPLOYMENT_DOC = PROJECT_ROOT / "docs" / "deployment.md"
APP_SERVICES = ("init", "api", "dagster")  # built from the project's Dockerfile
# Variables that belong to the tools in the image, not to our settings.
TOOL_VARIABLES = {
    "DAGSTER_HOME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PYTHONWARNINGS",
}


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@cache
def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}`` with ``env``."""

    def one(match: re.Match) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if name in env and (env[name] or operator != ":-"):
            return env[name]
        if operator == ":-":
            return rest
        raise KeyError(name)

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def environment(service: str) -> dict[str, str]:
    return {
        name: interpolate(str(value), env_example())
        for name, value in compose()["services"][service]["environment"].items()
    }


def settings_variables() -> set[str]:
    """Every environment variable name the settings object reads."""
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(
            choice for choice in getattr(alias, "choices", [alias]) if isinstance(choice, str) and choice.isupper()
        )
    return names


def compose_doc_section() -> str:
    match = re.search(r"^## Docker compose\n(.*?)(?=^## |\Z)", DEPLOYMENT_DOC.read_text(), re.S | re.M)
    assert match, "docs/deployment.md has no '## Docker compose' section"
    return match.group(1)


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


# -- the compose CLI ------------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    """The process environment without the variables .env provides, so only --env-file counts."""
    return {name: value for name, value in os.environ.items() if name not in env_example()}


def test_compose_cli_accepts_the_file():
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` (the Docker CLI's compose plugin) nor `docker-compose` is installed")
    done = subprocess.run(
        [*cli, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == set(compose()["services"])
    api = resolved["services"]["api"]
    assert api["environment"]["API_DATABASE_URL"] == environment("api")["API_DATABASE_URL"]


def test_compose_cli_names_a_missing_credential(tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` (the Docker CLI's compose plugin) nor `docker-compose` is installed")
    partial = tmp_path / ".env"
    partial.write_text("".join(f"{k}={v}\n" for k, v in env_example().items() if k != "SOURCE_DB_PASSWORD"))
    done = subprocess.run(
        [*cli, "--env-file", str(partial), "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert done.returncode != 0
    assert "set SOURCE_DB_PASSWORD in .env (cp .env.example .env)" in done.stderr + done.stdout


# -- services, docs -----------------------------------------------------------------------------


def test_every_service_the_docs_name_exists_and_every_service_is_documented():
    section = compose_doc_section()
    table = set(re.findall(r"^\| `([\w-]+)` \|", section, re.M))
    services = set(compose()["services"])
    assert table == services, f"docs/deployment.md table {sorted(table)} vs docker-compose.yml {sorted(services)}"
    named_in_commands = set()
    for line in section.splitlines():
        tokens = shlex.split(line.split("#")[0]) if line.startswith("docker compose") else []
        words = [t for t in tokens[2:] if not t.startswith("-") and t not in ("dagster",)]  # --profile's value
        if words and words[0] in ("run", "exec"):
            named_in_commands.update(words[1:2])
        elif words and words[0] in ("logs", "restart", "stop", "start", "up", "ps"):
            named_in_commands.update(words[1:])
    assert named_in_commands, "docs/deployment.md shows no docker compose command naming a service"
    assert named_in_commands <= services


def test_databases_use_official_images_named_volumes_and_health_checks():
    services, volumes = compose()["services"], compose()["volumes"]
    for name, database in (("source-db", "source"), ("target-db", "target")):
        service = services[name]
        assert service["image"].split(":")[0] == "postgres"
        assert service["environment"]["POSTGRES_DB"] == database and database in DATABASES
        data_volume = service["volumes"][0].split(":")
        assert data_volume[1] == "/var/lib/postgresql/data" and data_volume[0] in volumes
        # TCP, not the socket: the image's first-start initialisation runs a socket-only server.
        assert "pg_isready --host 127.0.0.1" in " ".join(service["healthcheck"]["test"])


def test_app_services_are_built_from_the_dockerfile():
    for name in APP_SERVICES:
        assert compose()["services"][name]["build"]["context"] == "."
    assert compose()["services"]["dagster"]["profiles"] == ["dagster"]
    init = compose()["services"]["init"]
    assert init["command"] == ["sh", "-c", "etl init && etl seed --if-empty"]
    assert {s: c["condition"] for s, c in init["depends_on"].items()} == {
        "source-db": "service_healthy",
        "target-db": "service_healthy",
    }


# -- agreement with the settings object ----------------------------------------------------------


def test_environment_variable_names_are_the_settings_names():
    known = settings_variables()
    for name in APP_SERVICES:
        unknown = set(environment(name)) - known - TOOL_VARIABLES
        assert not unknown, f"service {name} sets {sorted(unknown)}, which etl_lib/settings.py does not read"
    dockerfile_env = set(re.findall(r"(?:ENV|\\)\s+(\w+)=", DOCKERFILE.read_text()))
    assert dockerfile_env and not dockerfile_env - known - TOOL_VARIABLES
    documented_env = set(re.findall(r"^export (\w+)=", compose_doc_section(), re.M))
    assert documented_env == {"SOURCE_DATABASE_URL", "TARGET_DATABASE_URL", "ETL_API_URL"} and documented_env <= known


def test_every_compose_variable_is_in_env_example_and_nothing_else():
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    assert used == set(env_example()), f"compose uses {sorted(used)}, .env.example has {sorted(env_example())}"


def test_api_container_runs_the_stack_command_on_its_port():
    api = compose()["services"]["api"]
    settings = Settings(**environment("api"))  # what the API process reads inside the container
    expected = api_command(settings)
    assert Path(expected[0]).name.startswith("python")
    assert api["command"] == ["python", *expected[1:]]
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.M)
    assert cmd and yaml.safe_load(cmd.group(1)) == api["command"]
    port = settings.api_port
    assert api["ports"] == [f"127.0.0.1:${{API_PORT:-{env_example()['API_PORT']}}}:{port}"]
    assert f"http://127.0.0.1:{port}/health" in " ".join(api["healthcheck"]["test"])
    assert compose()["services"]["dagster"]["environment"]["ETL_API_URL"] == f"http://api:{port}"


def test_api_reads_the_source_as_the_read_only_role():
    api = compose()["services"]["api"]
    url = make_url(Settings(**environment("api")).api_source_url)
    assert (url.username, url.host, url.database) == (API_READER_ROLE, "source-db", "source")
    assert api["depends_on"]["source-db"]["condition"] == "service_healthy"
    assert "SOURCE_DATABASE_URL" not in api["environment"]
    assert f"CREATE ROLE {API_READER_ROLE} LOGIN" in ROLE_SCRIPT.read_text()


def test_documented_urls_reach_the_published_ports_with_the_example_credentials():
    section, env = compose_doc_section(), env_example()
    urls = dict(re.findall(r"^export (\w+)=(\S+)", section, re.M))
    published = {
        "SOURCE_DATABASE_URL": ("source-db", "source", "SOURCE_DB_PASSWORD"),
        "TARGET_DATABASE_URL": ("target-db", "target", "TARGET_DB_PASSWORD"),
    }
    for variable, (service, database, password) in published.items():
        url = make_url(urls[variable])
        host_port = interpolate(compose()["services"][service]["ports"][0], env).split(":")
        assert (url.host, str(url.port)) == (host_port[0], host_port[1])
        assert (url.username, url.password, url.database) == (env["POSTGRES_USER"], env[password], database)
    api_url = urlsplit(urls["ETL_API_URL"])
    assert f"{api_url.hostname}:{api_url.port}" == ":".join(
        interpolate(compose()["services"]["api"]["ports"][0], env).split(":")[:2]
    )


# -- the image -----------------------------------------------------------------------------------


def test_dockerfile_is_slim_non_root_dependencies_first_and_without_secrets():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    assert re.match(r"FROM python:3\.\d+-slim", next(line for line in lines if line.startswith("FROM")))
    position = {
        what: next(i for i, line in enumerate(lines) if what in line)
        for what in ("COPY pyproject.toml constraints.txt", "-c constraints.txt", "COPY etl_lib", "USER ")
    }
    assert position["COPY pyproject.toml constraints.txt"] < position["-c constraints.txt"] < position["COPY etl_lib"]
    user = lines[position["USER "]].split()[1]
    assert user not in ("root", "0")
    assert not re.search(r"(?i)(PASSWORD|SECRET|TOKEN)\w*\s*=", DOCKERFILE.read_text())
    ignored = set(Path(PROJECT_ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".stack", ".git", "runs"} <= ignored


# -- the role script on a real PostgreSQL ---------------------------------------------------------
