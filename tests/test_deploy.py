"""The Docker stack, tested around the engine (none on these machines): docker-compose.yml, the
collector config, the Dockerfile and Grafana provisioning load and agree with each other, and
setup.sh checks, prepares ./data and .env, and waits for health (driven by a stand-in `docker`)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
COLLECTOR = yaml.safe_load((DEPLOY / "otel-collector" / "config.yaml").read_text())
DATASOURCES = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "ccmonitor.yaml").read_text())
PROVIDERS = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "ccmonitor.yaml").read_text())
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
SUBST = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, with `env` as the .env file."""
    env = env or {}

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.groups()
        if env.get(name):
            return env[name]
        if op == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == "-" else ""

    return SUBST.sub(one, text)


def published(service: str, env: dict[str, str] | None = None) -> dict[int, tuple[str, int]]:
    """container port -> (host address, host port)."""
    out = {}
    for spec in SERVICES[service].get("ports", []):
        host, host_port, container = interpolate(spec, env).rsplit(":", 2)
        out[int(container)] = (host, int(host_port))
    return out


def mounts(service: str) -> dict[str, tuple[str, bool]]:
    """container path -> (host path, read-only)."""
    out = {}
    for spec in SERVICES[service].get("volumes", []):
        parts = spec.split(":")
        out[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
    return out


def host_path(service: str, container_path: str) -> Path:
    """Which host path a path inside a container comes from (the longest mount that holds it)."""
    holding = [c for c in mounts(service) if container_path == c or container_path.startswith(c + "/")]
    best = max(holding, key=len)
    return (ROOT / mounts(service)[best][0] / container_path[len(best) :].lstrip("/")).resolve()


# ---------------------------------------------------------------- compose


def test_the_three_services() -> None:
    assert set(SERVICES) == {"otel-collector", "ccmonitor", "grafana"}


@pytest.mark.parametrize(
    ("service", "pattern"),
    [
        ("otel-collector", r"otel/opentelemetry-collector-contrib:0\.1\d\d\.\d+"),
        ("grafana", r"grafana/grafana:1[12]\.\d+\.\d+"),
    ],
)
def test_images_are_pinned(service: str, pattern: str) -> None:
    assert re.fullmatch(pattern, SERVICES[service]["image"])


def test_sqlite_plugin_is_pinned_and_preinstalled() -> None:
    env = SERVICES["grafana"]["environment"]
    assert re.fullmatch(r"frser-sqlite-datasource@3\.\d+\.\d+", env["GF_PLUGINS_PREINSTALL_SYNC"])
    assert env["GF_PLUGINS_PREINSTALL_AUTO_UPDATE"] == "false"


def test_grafana_is_locked_down() -> None:
    env = SERVICES["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    with pytest.raises(KeyError):  # no password, no start: never admin/admin
        interpolate(env["GF_SECURITY_ADMIN_PASSWORD"])
    assert interpolate(env["GF_SECURITY_ADMIN_PASSWORD"], {"GRAFANA_ADMIN_PASSWORD": "pw"}) == "pw"


def test_host_ports_listen_on_localhost_by_default() -> None:
    assert published("otel-collector") == {
        4317: ("127.0.0.1", 4317),
        4318: ("127.0.0.1", 4318),
        13133: ("127.0.0.1", 13133),
    }
    assert published("ccmonitor") == {5000: ("127.0.0.1", 5000)}
    assert published("grafana") == {3000: ("127.0.0.1", 3000)}


def test_one_setting_opens_only_the_otlp_ports() -> None:
    remote = {"OTLP_BIND_ADDRESS": "0.0.0.0"}
    opened = {port for s in SERVICES for port, (host, _) in published(s, remote).items() if host != "127.0.0.1"}
    assert opened == {4317, 4318}


def test_ccmonitor_is_built_here_and_keeps_its_data_in_dot_data() -> None:
    service = SERVICES["ccmonitor"]
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert mounts("ccmonitor")["/data"] == ("./data", False)
    assert service["command"] == ["serve", "--listen-all", "--db", "/data/claude_monitoring.db"]
    assert host_path("ccmonitor", "/data/claude_monitoring.db") == ROOT / "data" / "claude_monitoring.db"


def test_every_service_runs_as_the_owner_of_dot_data() -> None:
    for name, service in SERVICES.items():
        assert interpolate(service["user"]) == "1000:1000", name
        assert interpolate(service["user"], {"CCMONITOR_UID": "501", "CCMONITOR_GID": "20"}) == "501:20"


def test_healthchecks_and_start_order() -> None:
    ccmonitor = SERVICES["ccmonitor"]["healthcheck"]["test"]
    assert "http://127.0.0.1:5000/health" in " ".join(ccmonitor)
    assert "http://127.0.0.1:3000/api/health" in " ".join(SERVICES["grafana"]["healthcheck"]["test"])
    for name in ("otel-collector", "grafana"):
        assert SERVICES[name]["depends_on"] == {"ccmonitor": {"condition": "service_healthy"}}
    for service in SERVICES.values():
        assert service["restart"] == "unless-stopped"


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_non_root_with_the_same_command_and_healthcheck() -> None:
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert 'CMD ["serve", "--listen-all", "--db", "/data/claude_monitoring.db"]' in DOCKERFILE
    assert re.search(r"^HEALTHCHECK .*\n?.*http://127\.0\.0\.1:5000/health", DOCKERFILE, re.M)
    assert re.search(r"^RUN pip install \.", DOCKERFILE, re.M)
    assert re.search(r"^EXPOSE 4317 4318 5000$", DOCKERFILE, re.M)


def test_dockerignore_lets_the_build_inputs_through() -> None:
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*") :][:4] == ["*", "!pyproject.toml", "!README.md", "!src/"]
    assert (ROOT / "README.md").exists() and (ROOT / "pyproject.toml").exists()


# ---------------------------------------------------------------- collector


def test_collector_config_is_the_mounted_one() -> None:
    command = SERVICES["otel-collector"]["command"]
    (path,) = [c.split("=", 1)[1] for c in command if c.startswith("--config=")]
    assert host_path("otel-collector", path) == DEPLOY / "otel-collector" / "config.yaml"
    assert mounts("otel-collector")[path][1], "config is mounted read-only"


def test_pipelines_only_use_defined_components() -> None:
    service = COLLECTOR["service"]
    assert set(service["extensions"]) <= set(COLLECTOR["extensions"])
    assert set(service["pipelines"]) == {"logs", "metrics", "traces"}
    for name, pipeline in service["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(COLLECTOR[kind]), (name, kind)
        assert pipeline["processors"] == ["memory_limiter", "batch"], name


def test_receivers_listen_on_the_published_ports() -> None:
    protocols = COLLECTOR["receivers"]["otlp"]["protocols"]
    ports = {int(p["endpoint"].rsplit(":", 1)[1]) for p in protocols.values()}
    assert ports == {4317, 4318} <= set(published("otel-collector"))
    health = int(COLLECTOR["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1])
    assert health in published("otel-collector")


def test_exporter_reaches_ccmonitor_and_survives_outages() -> None:
    ((name, exporter),) = COLLECTOR["exporters"].items()
    assert name.split("/")[0] == "otlphttp"
    url = urlsplit(exporter["endpoint"])
    assert url.scheme == "http" and url.path in ("", "/")
    assert url.hostname in SERVICES and url.hostname == "ccmonitor"
    assert url.port == 5000 and "5000" in re.search(r"^EXPOSE .*$", DOCKERFILE, re.M).group(0)
    assert exporter["compression"] == "gzip"
    assert exporter["retry_on_failure"]["enabled"] is True
    queue = exporter["sending_queue"]
    assert queue["enabled"] is True
    assert queue["storage"] in COLLECTOR["extensions"] and queue["storage"].startswith("file_storage")
    assert queue["storage"] in COLLECTOR["service"]["extensions"]


def test_queue_directory_is_on_a_host_volume() -> None:
    storage = COLLECTOR["extensions"]["file_storage/queue"]
    directory = storage["directory"]
    assert host_path("otel-collector", directory).is_relative_to(ROOT / "data")
    assert not mounts("otel-collector")["/var/lib/otelcol"][1]


# ---------------------------------------------------------------- Grafana provisioning


def test_datasource_is_pinned_and_reads_the_ccmonitor_file_query_only() -> None:
    ((ds),) = DATASOURCES["datasources"]
    assert ds["name"] == "Claude Code Monitoring"
    assert ds["type"] == "frser-sqlite-datasource"
    assert ds["uid"] == "ccmonitor-sqlite"
    data = ds["jsonData"]
    assert data["pathPrefix"] == "file:"
    options = data["pathOptions"].split("&")
    assert "mode=ro" in options and "_pragma=query_only(1)" in options
    assert any(re.fullmatch(r"_pragma=busy_timeout\(\d{4,}\)", o) for o in options)
    # the same file ccmonitor writes, through a writable mount of its folder (WAL readers need -shm)
    assert host_path("grafana", data["path"]) == host_path("ccmonitor", "/data/claude_monitoring.db")
    folder = str(Path(data["path"]).parent)
    assert mounts("grafana")[folder] == ("./data", False)


def test_provisioning_and_dashboards_are_mounted_read_only() -> None:
    grafana = mounts("grafana")
    assert grafana["/etc/grafana/provisioning"] == ("./deploy/grafana/provisioning", True)
    ((provider),) = PROVIDERS["providers"]
    folder = provider["options"]["path"]
    assert grafana[folder][1]
    assert (host_path("grafana", folder + "/claude-code-monitoring.json")).exists()
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path("grafana", home).exists()
    assert grafana["/var/lib/grafana"] == ("./data/grafana", False)


# ---------------------------------------------------------------- setup.sh and configure-claude.sh

FAKE_DOCKER = r"""#!/usr/bin/env bash
# Stand-in for the docker CLI: answers from FAKE_* variables and logs every call.
echo "$*" >> "$FAKE_LOG"
case "$*" in
  --version) echo "Docker version ${FAKE_CLIENT}, build abc" ;;
  "compose version --short") [ -n "$FAKE_COMPOSE" ] || exit 1; echo "$FAKE_COMPOSE" ;;
  "version --format {{.Server.Version}}") [ -n "$FAKE_SERVER" ] || exit 1; echo "$FAKE_SERVER" ;;
  "compose ps -q "*) echo "id-${*##* }" ;;
  inspect*) case "$*" in *otel-collector) echo running ;; *) echo "$FAKE_HEALTH" ;; esac ;;
esac
"""


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    """A copy of setup.sh in an empty folder, with the stand-in docker first on PATH."""
    shutil.copy(ROOT / "setup.sh", tmp_path / "setup.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    return tmp_path


def setup(stack: Path, **fake: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{stack / 'bin'}:{os.environ['PATH']}",
        "HOME": str(stack),
        "FAKE_LOG": str(stack / "docker.log"),
        "FAKE_CLIENT": "24.0.7",
        "FAKE_COMPOSE": "v2.29.1",
        "FAKE_SERVER": "24.0.7",
        "FAKE_HEALTH": "healthy",
        "SETUP_TIMEOUT": "4",
        **fake,
    }
    return subprocess.run(["bash", str(stack / "setup.sh")], env=env, capture_output=True, text=True, timeout=60)


def env_file(stack: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (stack / ".env").read_text().splitlines())


def test_setup_prepares_data_and_env_then_builds_starts_and_reports(stack: Path) -> None:
    result = setup(stack)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((stack / "data").stat().st_mode) == 0o700
    assert (stack / "data" / "collector").is_dir() and (stack / "data" / "grafana").is_dir()
    env = env_file(stack)
    assert stat.S_IMODE((stack / ".env").stat().st_mode) == 0o600
    assert re.fullmatch(r"[A-Za-z0-9]{24}", env["GRAFANA_ADMIN_PASSWORD"])
    assert env["OTLP_BIND_ADDRESS"] == "127.0.0.1"
    expected_uid = "10001" if os.getuid() == 0 else str(os.getuid())
    assert env["CCMONITOR_UID"] == expected_uid
    calls = (stack / "docker.log").read_text().splitlines()
    assert calls.index("compose build") < calls.index("compose up -d")
    assert f"password: {env['GRAFANA_ADMIN_PASSWORD']}" in result.stdout
    assert "http://localhost:3000" in result.stdout and "./configure-claude.sh" in result.stdout


def test_setup_keeps_the_password_on_a_second_run(stack: Path) -> None:
    assert setup(stack).returncode == 0
    first = env_file(stack)
    assert setup(stack).returncode == 0
    assert env_file(stack) == first


def test_setup_takes_the_password_from_the_environment(stack: Path) -> None:
    assert setup(stack, GRAFANA_ADMIN_PASSWORD="correct-horse").returncode == 0
    assert env_file(stack)["GRAFANA_ADMIN_PASSWORD"] == "correct-horse"


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        ({"FAKE_CLIENT": "19.03.12"}, "Docker 19.03.12 is too old: need 20.10"),
        ({"FAKE_COMPOSE": ""}, "Docker Compose v2 is missing"),
        ({"FAKE_COMPOSE": "1.29.2"}, "Docker Compose 1.29.2 is too old"),
        ({"FAKE_SERVER": ""}, "cannot reach the Docker daemon"),
        ({"FAKE_SERVER": "19.03.0"}, "Docker Engine 19.03.0 is too old"),
    ],
    ids=["old-client", "no-compose", "compose-v1", "no-daemon", "old-engine"],
)
def test_setup_says_what_is_missing_and_touches_nothing(stack: Path, fake: dict[str, str], message: str) -> None:
    result = setup(stack, **fake)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (stack / "data").exists() and not (stack / ".env").exists()


def test_setup_gives_up_when_a_service_stays_unhealthy(stack: Path) -> None:
    result = setup(stack, FAKE_HEALTH="starting", SETUP_TIMEOUT="1")
    assert result.returncode == 1
    assert "ccmonitor=starting" in result.stderr and "docker compose logs" in result.stderr


def test_setup_with_the_real_docker_client_names_what_is_missing(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        pytest.skip("a working Docker engine is here: nothing is missing (run ./setup.sh itself)")
    shutil.copy(ROOT / "setup.sh", tmp_path / "setup.sh")
    result = subprocess.run(["bash", str(tmp_path / "setup.sh")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "setup.sh cannot start the stack:" in result.stderr
    assert not (tmp_path / "data").exists()


def test_configure_claude_sh_runs_ccmonitor_configure(tmp_path: Path) -> None:
    bin_dir = Path(shutil.which("ccmonitor") or ROOT / ".venv" / "bin" / "ccmonitor").parent
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(ROOT / "configure-claude.sh"), "--shell", "bash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT='http://localhost:4317'" in result.stdout


@pytest.mark.parametrize("script", ["setup.sh", "configure-claude.sh"])
def test_scripts_are_executable_bash(script: str) -> None:
    path = ROOT / script
    assert os.access(path, os.X_OK)
    subprocess.run(["bash", "-n", str(path)], check=True)
