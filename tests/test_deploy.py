"""The Docker stack, tested around the engine (none on these machines): docker-compose.yml and its
PostgreSQL variant docker-compose.postgres.yml, the collector config, the Dockerfile and Grafana
provisioning load and agree with each other; the PostgreSQL init script creates its writer and
read-only roles on a real server; setup.sh checks, prepares ./data and .env, and waits for health
(driven by a stand-in `docker`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
import yaml
from psycopg import sql as psql_sql

from capture import replay_scenario
from conftest import RunningServer, make_config
from postgres_cluster import PostgresCluster, find_bin_dir

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PG_COMPOSE = yaml.safe_load((ROOT / "docker-compose.postgres.yml").read_text())
PG_SERVICES = PG_COMPOSE["services"]
COLLECTOR = yaml.safe_load((DEPLOY / "otel-collector" / "config.yaml").read_text())
DATASOURCES = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "ccmonitor.yaml").read_text())
PG_DATASOURCES = yaml.safe_load(
    (DEPLOY / "grafana" / "provisioning-postgres" / "datasources" / "ccmonitor.yaml").read_text())
PROVIDERS = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "ccmonitor.yaml").read_text())
INIT_ROLES = DEPLOY / "postgres" / "initdb" / "10-ccmonitor-roles.sh"
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


def published(service: str, env: dict[str, str] | None = None, services: dict = SERVICES) -> dict[int, tuple[str, int]]:
    """container port -> (host address, host port)."""
    out = {}
    for spec in services[service].get("ports", []):
        host, host_port, container = interpolate(spec, env).rsplit(":", 2)
        out[int(container)] = (host, int(host_port))
    return out


def mounts(service: str, services: dict = SERVICES) -> dict[str, tuple[str, bool]]:
    """container path -> (host path, read-only)."""
    out = {}
    for spec in services[service].get("volumes", []):
        parts = spec.split(":")
        out[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
    return out


def host_path(service: str, container_path: str, services: dict = SERVICES) -> Path:
    """Which host path a path inside a container comes from (the longest mount that holds it)."""
    holding = [c for c in mounts(service, services) if container_path == c or container_path.startswith(c + "/")]
    best = max(holding, key=len)
    return (ROOT / mounts(service, services)[best][0] / container_path[len(best) :].lstrip("/")).resolve()


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


# ---------------------------------------------------------------- the PostgreSQL variant


def test_postgres_variant_services() -> None:
    assert set(PG_SERVICES) == {"postgres", "otel-collector", "ccmonitor", "grafana"}
    assert PG_COMPOSE["name"] != COMPOSE["name"], "its own project: switching stacks leaves no orphans"
    assert re.fullmatch(r"postgres:17\.\d+(-bookworm)?", PG_SERVICES["postgres"]["image"])
    for name in ("otel-collector", "grafana"):
        assert PG_SERVICES[name]["image"] == SERVICES[name]["image"], "pinned like the SQLite stack"
    assert PG_SERVICES["otel-collector"] == SERVICES["otel-collector"]
    assert PG_SERVICES["ccmonitor"]["build"] == SERVICES["ccmonitor"]["build"]
    for name, service in PG_SERVICES.items():
        assert interpolate(service["user"]) == "1000:1000", name
        assert service["restart"] == "unless-stopped", name


def test_postgres_variant_publishes_what_the_sqlite_stack_does_and_no_database_port() -> None:
    for name in SERVICES:
        assert published(name, services=PG_SERVICES) == published(name), name
    assert "ports" not in PG_SERVICES["postgres"]


def test_postgres_keeps_its_cluster_in_dot_data_and_runs_the_init_script() -> None:
    volumes = mounts("postgres", PG_SERVICES)
    assert volumes["/var/lib/postgresql/data"] == ("./data/postgres", False)
    assert host_path("postgres", "/docker-entrypoint-initdb.d/10-ccmonitor-roles.sh", PG_SERVICES) == INIT_ROLES
    assert volumes["/docker-entrypoint-initdb.d"][1], "mounted read-only"
    assert os.access(INIT_ROLES, os.X_OK)
    subprocess.run(["sh", "-n", str(INIT_ROLES)], check=True)


def test_postgres_variant_secrets_come_from_dot_env_or_nothing_starts() -> None:
    env = PG_SERVICES["postgres"]["environment"]
    for key in ("POSTGRES_PASSWORD", "CCMONITOR_DB_PASSWORD", "GRAFANA_DB_PASSWORD"):
        with pytest.raises(KeyError):
            interpolate(env[key])
        assert interpolate(env[key], {key: "pw"}) == "pw"
    assert PG_SERVICES["ccmonitor"]["environment"]["PGPASSWORD"] == env["CCMONITOR_DB_PASSWORD"]
    assert PG_SERVICES["grafana"]["environment"]["GRAFANA_DB_PASSWORD"] == env["GRAFANA_DB_PASSWORD"]


def test_ccmonitor_writes_to_the_postgres_service_as_the_writer_role() -> None:
    command = PG_SERVICES["ccmonitor"]["command"]
    assert command[:3] == ["serve", "--listen-all", "--db"]
    url = urlsplit(command[3])
    env = PG_SERVICES["postgres"]["environment"]
    assert url.scheme == "postgresql" and url.password is None, "the password comes from PGPASSWORD"
    assert (url.hostname, url.port, url.username) == ("postgres", 5432, env["CCMONITOR_DB_USER"])
    assert url.path == "/" + env["POSTGRES_DB"]
    assert "volumes" not in PG_SERVICES["ccmonitor"], "no database file"


def test_postgres_variant_healthchecks_and_start_order() -> None:
    check = PG_SERVICES["postgres"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "pg_isready"] and check[check.index("-h") + 1] == "127.0.0.1", \
        "over TCP: the init server listens on its socket only"
    assert PG_SERVICES["ccmonitor"]["healthcheck"] == SERVICES["ccmonitor"]["healthcheck"]
    assert PG_SERVICES["grafana"]["healthcheck"] == SERVICES["grafana"]["healthcheck"]
    healthy = {"condition": "service_healthy"}
    assert PG_SERVICES["ccmonitor"]["depends_on"] == {"postgres": healthy}
    assert PG_SERVICES["grafana"]["depends_on"] == {"postgres": healthy, "ccmonitor": healthy}
    assert PG_SERVICES["otel-collector"]["depends_on"] == {"ccmonitor": healthy}


def test_grafana_reads_postgres_with_the_built_in_datasource_as_the_read_only_role() -> None:
    ((ds),) = PG_DATASOURCES["datasources"]
    env = PG_SERVICES["postgres"]["environment"]
    assert (ds["name"], ds["uid"], ds["type"]) == ("Claude Code Monitoring", "ccmonitor-postgres",
                                                  "grafana-postgresql-datasource")
    assert ds["url"] == "postgres:5432" and ds["url"].split(":")[0] in PG_SERVICES
    assert ds["user"] == env["GRAFANA_DB_USER"] and ds["jsonData"]["database"] == env["POSTGRES_DB"]
    assert ds["secureJsonData"]["password"] == "${GRAFANA_DB_PASSWORD}"  # Grafana expands it from its environment
    grafana = PG_SERVICES["grafana"]["environment"]
    assert "GF_PLUGINS_PREINSTALL_SYNC" not in grafana, "no plugin"
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and grafana["GF_USERS_ALLOW_SIGN_UP"] == "false"
    with pytest.raises(KeyError):
        interpolate(grafana["GF_SECURITY_ADMIN_PASSWORD"])


def test_grafana_of_the_postgres_variant_provisions_the_postgres_dashboard_read_only() -> None:
    grafana = mounts("grafana", PG_SERVICES)
    assert grafana["/etc/grafana/provisioning/datasources"] == (
        "./deploy/grafana/provisioning-postgres/datasources", True)
    assert grafana["/etc/grafana/provisioning/dashboards"] == ("./deploy/grafana/provisioning/dashboards", True)
    ((provider),) = PROVIDERS["providers"]
    folder = provider["options"]["path"]
    assert grafana[folder] == ("./deploy/grafana/dashboards-postgres", True)
    board = json.loads(host_path("grafana", folder + "/claude-code-monitoring.json", PG_SERVICES).read_text())
    assert {p["datasource"]["uid"] for p in board["panels"]} == {PG_DATASOURCES["datasources"][0]["uid"]}
    home = PG_SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path("grafana", home, PG_SERVICES).exists()
    assert grafana["/var/lib/grafana"] == ("./data/grafana", False)
    assert "/var/lib/ccmonitor" not in grafana, "no database file to mount"


@pytest.fixture
def initialised(postgres_cluster: PostgresCluster) -> Iterator[dict[str, str]]:
    """A database set up by the init script, as the postgres image runs it (psql as the admin), with
    this test's own role names; the database and the roles are dropped afterwards."""
    url = postgres_cluster.create_database()
    tag = uuid.uuid4().hex[:10]
    env = {"POSTGRES_DB": urlsplit(url).path.lstrip("/"), "CCMONITOR_DB_USER": f"writer_{tag}",
           "CCMONITOR_DB_PASSWORD": "writer's secret", "GRAFANA_DB_USER": f"reader_{tag}",
           "GRAFANA_DB_PASSWORD": "reader's secret"}
    admin = urlsplit(url)
    psql = shutil.which("psql") or str(find_bin_dir() / "psql")
    try:
        done = subprocess.run(["sh", str(INIT_ROLES)], capture_output=True, text=True, timeout=60, env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PG")}, **env,
            "PATH": f"{Path(psql).parent}:{os.environ['PATH']}", "POSTGRES_USER": admin.username or "postgres",
            "PGHOST": admin.hostname or "127.0.0.1", "PGPORT": str(admin.port or 5432),
            **({"PGPASSWORD": admin.password} if admin.password else {})})
        assert done.returncode == 0, done.stderr
        yield {**env, "url": url}
    finally:
        postgres_cluster.drop_database(url)
        with psycopg.connect(postgres_cluster.url, autocommit=True) as conn:
            for role in (env["GRAFANA_DB_USER"], env["CCMONITOR_DB_USER"]):
                conn.execute(psql_sql.SQL("DROP ROLE IF EXISTS {}").format(psql_sql.Identifier(role)))


def as_role(url: str, user: str, password: str) -> str:
    return urlunsplit(urlsplit(url)._replace(netloc=f"{quote(user)}:{quote(password)}@{urlsplit(url).hostname}"
                                                    f":{urlsplit(url).port or 5432}"))


def test_init_script_roles_writer_migrates_and_writes_grafana_only_reads(initialised: dict[str, str]) -> None:
    writer = as_role(initialised["url"], initialised["CCMONITOR_DB_USER"], initialised["CCMONITOR_DB_PASSWORD"])
    running = RunningServer(make_config(writer))  # migrates and writes as the writer, like the stack's ccmonitor
    try:
        replay_scenario("http-protobuf", running.ports)
    finally:
        running.stop()
    reader = as_role(initialised["url"], initialised["GRAFANA_DB_USER"], initialised["GRAFANA_DB_PASSWORD"])
    with psycopg.connect(reader, autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("30s",)
        assert conn.execute("SHOW max_parallel_workers_per_gather").fetchone() == ("0",)
        for table in ("metrics", "events", "rollup_metrics", "rollup_events_sets", "rollup_durations",
                      "rollup_sessions", "attribute_sets", "session_attribute_sets"):
            conn.execute(f"SELECT COUNT(*) FROM {table}")
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM events")
        for statement in ("INSERT INTO heartbeat VALUES (1, now())", "DELETE FROM events",
                          "CREATE TABLE mine (x int)", "ALTER TABLE events ADD COLUMN mine int"):
            conn.execute("BEGIN READ WRITE")  # what anyone who can edit a panel could send first
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.WrongObjectType)):
                conn.execute(statement)
            conn.execute("ROLLBACK")
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0


# ---------------------------------------------------------------- setup.sh and configure-claude.sh

FAKE_DOCKER = r"""#!/usr/bin/env bash
# Stand-in for the docker CLI: answers from FAKE_* variables and logs every call.
echo "$*" >> "$FAKE_LOG"
echo "${COMPOSE_FILE:-}" >> "$FAKE_LOG.compose_file"
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


def setup(stack: Path, *args: str, **fake: str) -> subprocess.CompletedProcess[str]:
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
    return subprocess.run(["bash", str(stack / "setup.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=60)


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


def compose_files(stack: Path) -> set[str]:
    """The COMPOSE_FILE the stack's docker compose calls saw (not the version checks before them)."""
    calls = (stack / "docker.log").read_text().splitlines()
    files = (stack / "docker.log.compose_file").read_text().splitlines()
    return {f for call, f in zip(calls[-len(files):], files, strict=True)
            if call.startswith("compose ") and call != "compose version --short"}


def test_setup_postgres_adds_the_database_and_its_passwords_and_remembers_the_choice(stack: Path) -> None:
    result = setup(stack, "--postgres")
    assert result.returncode == 0, result.stderr
    env = env_file(stack)
    assert env["COMPOSE_FILE"] == "docker-compose.postgres.yml" and (ROOT / env["COMPOSE_FILE"]).exists()
    secrets = [env[k] for k in ("POSTGRES_PASSWORD", "CCMONITOR_DB_PASSWORD", "GRAFANA_DB_PASSWORD")]
    assert all(re.fullmatch(r"[A-Za-z0-9]{24}", p) for p in secrets) and len(set(secrets)) == 3
    assert stat.S_IMODE((stack / "data" / "postgres").stat().st_mode) == 0o700
    assert compose_files(stack) == {"docker-compose.postgres.yml"}
    calls = (stack / "docker.log").read_text().splitlines()
    assert "compose ps -q postgres" in calls, "waits for the database too"
    assert "PostgreSQL in ./data/postgres" in result.stdout
    (stack / "docker.log.compose_file").unlink()
    assert setup(stack).returncode == 0
    assert env_file(stack) == env, "a second run keeps the choice and every password"
    assert compose_files(stack) == {"docker-compose.postgres.yml"}


def test_setup_sqlite_switches_back(stack: Path) -> None:
    assert setup(stack, "--postgres").returncode == 0
    (stack / "docker.log.compose_file").unlink()
    assert setup(stack, "--sqlite").returncode == 0
    assert env_file(stack)["COMPOSE_FILE"] == "docker-compose.yml"
    assert compose_files(stack) == {"docker-compose.yml"}


def test_setup_without_a_choice_starts_the_sqlite_stack(stack: Path) -> None:
    assert setup(stack).returncode == 0
    assert "COMPOSE_FILE" not in env_file(stack) and compose_files(stack) == {"docker-compose.yml"}
    assert not (stack / "data" / "postgres").exists()
    assert "POSTGRES_PASSWORD" not in env_file(stack)


def test_setup_refuses_an_unknown_option_and_touches_nothing(stack: Path) -> None:
    result = setup(stack, "--mysql")
    assert result.returncode == 2 and "usage:" in result.stderr
    assert not (stack / "data").exists() and not (stack / ".env").exists()


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
