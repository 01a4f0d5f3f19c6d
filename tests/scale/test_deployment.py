"""The container files, checked without a container engine (none runs here or in CI).

- docker-compose.yml validates against the Compose Specification's JSON schema (vendored
  in tests/scale/compose-spec/ with its licence; see PROVENANCE.md there), and the schema
  demonstrably rejects broken variants;
- its meaning: the default is the service alone with a volume; the scale profile, started
  through the proxy, is two or more instances, nginx, Redis and PostgreSQL, with every
  dependency waiting on a healthcheck; the instances' settings are real Attune settings;
- deploy/nginx.conf, parsed by crossplane (nginx's own parser), routes /ingest, /live/… and
  /replay/… to the instances as websockets with the headers the service trusts;
- the Dockerfile, parsed by dockerfile-parse: multi-stage with uv, a non-root user, a Python
  healthcheck on /healthz, the port the compose file and nginx use; nothing it copies is
  excluded by .dockerignore; and the wheel it installs really carries the dashboard.
"""

from __future__ import annotations

import copy
import fnmatch
import ipaddress
import json
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import crossplane
import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from attune.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "compose-spec" / "compose-spec.json").read_text())
WEBSOCKET_PATHS = ("/ingest", "/live/c163d7df5ed74a1c", "/replay/c163d7df5ed74a1c")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def dockerfile() -> list[dict[str, Any]]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    structure: list[dict[str, Any]] = parser.structure
    return structure


@pytest.fixture(scope="module")
def nginx_http() -> list[dict[str, Any]]:
    parsed = crossplane.parse(str(ROOT / "deploy" / "nginx.conf"))
    assert parsed["status"] == "ok", parsed["errors"]
    config = parsed["config"][0]["parsed"]
    return _block(config, "http")


# Compose: the schema


def _errors(document: dict[str, Any]) -> list[str]:
    # The schema names draft 2019-09 (under its old "http://…/schema#" address).
    validator = jsonschema.Draft201909Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(document)]


def test_the_vendored_schema_is_a_valid_draft_2019_09_schema() -> None:
    assert "2019-09" in SCHEMA["$schema"]
    jsonschema.Draft201909Validator.check_schema(SCHEMA)


def test_the_compose_file_is_valid_compose(compose) -> None:
    assert _errors(compose) == []


@pytest.mark.parametrize(
    ("where", "broken"),
    [
        (("services", "attune-1", "depends_on", "redis", "condition"), "service_ready"),
        (("services", "attune", "healthcheck", "intervall"), "10s"),
        (("services", "proxy", "ports"), "8080:8080"),
        (("services", "attune", "profile"), ["scale"]),
    ],
)
def test_the_schema_rejects_a_broken_compose_file(compose, where, broken) -> None:
    document = copy.deepcopy(compose)
    node = document
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = broken
    assert _errors(document)


# Compose: what it means


def _enabled(compose: dict[str, Any], profiles: set[str]) -> set[str]:
    """Services ``docker compose up`` starts with these profiles active."""
    return {
        name
        for name, service in compose["services"].items()
        if not service.get("profiles") or profiles & set(service["profiles"])
    }


def _needs(compose: dict[str, Any], name: str) -> set[str]:
    """A service and everything it depends on, transitively (``docker compose up NAME``)."""
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo += list(compose["services"][current].get("depends_on", {}))
    return found


def _instances(compose: dict[str, Any]) -> list[str]:
    return sorted(
        name
        for name, service in compose["services"].items()
        if service.get("build") == "." and "scale" in service.get("profiles", [])
    )


def test_by_default_the_service_runs_alone_on_a_volume(compose) -> None:
    assert _enabled(compose, set()) == {"attune"}
    alone = compose["services"]["attune"]
    assert alone["build"] == "."
    assert "ATTUNE_REDIS_URL" not in alone.get("environment", {})
    assert "ATTUNE_DATABASE_URL" not in alone.get("environment", {})  # SQLite
    volume, target = alone["volumes"][0].split(":")[:2]
    assert volume in compose["volumes"]
    assert target == _env_of(_final_stage(_dockerfile_structure()))["ATTUNE_DATA_DIR"]


def test_the_scale_profile_is_instances_behind_a_proxy_with_redis_and_postgres(compose) -> None:
    instances = _instances(compose)
    assert len(instances) >= 2
    assert _needs(compose, "proxy") == {"proxy", "redis", "postgres", *instances}
    assert "attune" not in _needs(compose, "proxy")
    assert _enabled(compose, {"scale"}) >= {"proxy", "redis", "postgres", *instances}
    assert compose["services"]["redis"]["image"].startswith("redis:")
    assert compose["services"]["postgres"]["image"].startswith("postgres:")


def test_every_dependency_exists_and_waits_for_a_healthcheck(compose) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert condition == {"condition": "service_healthy"}, (name, target)


def test_volumes_and_mounted_files_exist(compose) -> None:
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared {source}"


def _resolved(environment: dict[str, str]) -> dict[str, str]:
    """Compose interpolation of ``${VAR:?message}`` with a stand-in value."""
    return {k: re.sub(r"\$\{(\w+)[^}]*\}", r"<\1>", str(v)) for k, v in environment.items()}


def test_the_instances_share_redis_postgres_and_the_secret_and_trust_only_the_proxy(
    compose,
) -> None:
    services = compose["services"]
    environments = [_resolved(services[name]["environment"]) for name in _instances(compose)]
    assert all(env == environments[0] for env in environments)
    env = environments[0]
    for name in env:  # every variable is a real setting (Settings ignores unknown ones)
        assert name.removeprefix("ATTUNE_").lower() in Settings.model_fields, name
    settings = Settings(**{k.removeprefix("ATTUNE_").lower(): v for k, v in env.items()})
    assert settings.redis_url is not None
    assert settings.redis_url.startswith("redis://redis:")
    assert settings.resolved_database_url().startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in settings.resolved_database_url()
    assert settings.secret_key is not None
    proxy_address = services["proxy"]["networks"]["backend"]["ipv4_address"]
    assert settings.forwarded_allow_ips == proxy_address
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(proxy_address) in ipaddress.ip_network(subnet)
    for name in ("redis", "postgres", *_instances(compose)):
        assert "backend" in services[name]["networks"]


# nginx


def _block(directives: list[dict[str, Any]], name: str, *args: str) -> list[dict[str, Any]]:
    for directive in directives:
        if directive["directive"] == name and tuple(directive["args"][: len(args)]) == args:
            block: list[dict[str, Any]] = directive["block"]
            return block
    raise AssertionError(f"no {name} {' '.join(args)} block")


def _values(block: list[dict[str, Any]], name: str) -> list[list[str]]:
    return [d["args"] for d in block if d["directive"] == name]


def _location_for(server: list[dict[str, Any]], uri: str) -> list[dict[str, Any]]:
    """The location nginx picks for ``uri`` (ngx_http_core_module "location"): an exact
    match; else the longest prefix if it has ^~; else the first matching regex; else the
    longest prefix."""
    locations = [d for d in server if d["directive"] == "location"]
    prefixes, regexes = [], []
    for location in locations:
        args = location["args"]
        if args[0] == "=" and args[1] == uri:
            return list(location["block"])
        if args[0] in ("~", "~*"):
            flags = re.IGNORECASE if args[0] == "~*" else 0
            regexes.append((re.compile(args[1], flags), location))
        else:
            path = args[-1]
            if uri.startswith(path):
                prefixes.append((len(path), args[0] == "^~", location))
    longest = max(prefixes, key=lambda p: p[0]) if prefixes else None
    if longest is not None and longest[1]:
        return list(longest[2]["block"])
    for pattern, location in regexes:
        if pattern.search(uri):
            return list(location["block"])
    assert longest is not None, f"no location for {uri}"
    return list(longest[2]["block"])


def _headers(location: list[dict[str, Any]]) -> dict[str, str]:
    return {args[0].lower(): args[1] for args in _values(location, "proxy_set_header")}


def _seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()  # type: ignore[union-attr]
    return int(number) * units[unit or "s"]


def test_nginx_balances_over_the_instances(compose, nginx_http) -> None:
    port = _exposed_port()
    servers = [args[0] for args in _values(_block(nginx_http, "upstream", "attune"), "server")]
    assert sorted(servers) == [f"{name}:{port}" for name in _instances(compose)]
    published = compose["services"]["proxy"]["ports"][0].split(":")[-1]
    server = _block(nginx_http, "server")
    assert [published] in _values(server, "listen")


@pytest.mark.parametrize("uri", WEBSOCKET_PATHS)
def test_nginx_proxies_the_websockets_with_upgrade_and_trusted_headers(nginx_http, uri) -> None:
    location = _location_for(_block(nginx_http, "server"), uri)
    assert _values(location, "proxy_pass") == [["http://attune"]]
    assert _values(location, "proxy_http_version") == [["1.1"]]
    headers = _headers(location)
    assert headers["upgrade"] == "$http_upgrade"
    assert headers["connection"] == "$connection_upgrade"
    upgrade_map = _block(nginx_http, "map", "$http_upgrade", "$connection_upgrade")
    assert {(d["directive"], *d["args"]) for d in upgrade_map} == {
        ("default", "upgrade"),
        ("", "close"),  # no Upgrade header: a plain request, let the connection close
    }
    # uvicorn's proxy headers (attune.cli.common.start_server): scheme and client address;
    # and the Host the browser used, which the Origin check compares against.
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for"
    assert headers["host"] == "$http_host"
    assert _seconds(_values(location, "proxy_read_timeout")[0][0]) > 60  # nginx's default
    assert _values(location, "proxy_buffering") == [["off"]]


def test_nginx_passes_everything_else_to_the_instances(nginx_http) -> None:
    for uri in ("/api/sessions", "/healthz", "/therapist.html", "/livestock", "/ingestion"):
        location = _location_for(_block(nginx_http, "server"), uri)
        assert _values(location, "proxy_pass") == [["http://attune"]]
        assert _headers(location)["host"] == "$http_host"
        assert "upgrade" not in _headers(location)


# Dockerfile


def _dockerfile_structure() -> list[dict[str, Any]]:
    structure: list[dict[str, Any]] = DockerfileParser(path=str(ROOT / "Dockerfile")).structure
    return structure


def _final_stage(structure: list[dict[str, Any]]) -> list[dict[str, Any]]:
    starts = [i for i, d in enumerate(structure) if d["instruction"] == "FROM"]
    return structure[starts[-1] :]


def _env_of(stage: list[dict[str, Any]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction["instruction"] == "ENV":
            for pair in shlex.split(instruction["value"].replace("\\\n", " ")):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def _exposed_port() -> str:
    exposed = [
        d["value"] for d in _final_stage(_dockerfile_structure()) if d["instruction"] == "EXPOSE"
    ]
    assert len(exposed) == 1
    return exposed[0].split("/")[0]


def test_the_image_is_multi_stage_with_uv_and_runs_unprivileged(dockerfile) -> None:
    froms = [d["value"] for d in dockerfile if d["instruction"] == "FROM"]
    assert len(froms) >= 2
    copies = [d["value"] for d in dockerfile if d["instruction"] == "COPY"]
    assert any("astral-sh/uv" in value for value in copies)
    runs = " ".join(d["value"] for d in dockerfile if d["instruction"] == "RUN")
    assert "uv sync --locked --no-dev" in runs
    final = _final_stage(dockerfile)
    users = [d["value"] for d in final if d["instruction"] == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert any(d["instruction"] == "COPY" and d["value"].startswith("--from=build") for d in final)


def test_the_healthcheck_asks_healthz_with_python_on_the_exposed_port(dockerfile, compose) -> None:
    port = _exposed_port()
    (healthcheck,) = [
        d["value"] for d in _final_stage(dockerfile) if d["instruction"] == "HEALTHCHECK"
    ]
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "python"
    assert f"http://127.0.0.1:{port}/healthz" in command[-1]
    (cmd,) = [d["value"] for d in _final_stage(dockerfile) if d["instruction"] == "CMD"]
    argv = json.loads(cmd)
    assert argv[:2] == ["attune", "serve"]
    assert argv[argv.index("--port") + 1] == port
    assert argv[argv.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - inside a container
    assert compose["services"]["attune"]["ports"] == [f"{port}:{port}"]
    for service in compose["services"].values():
        if service.get("build") == ".":
            assert service["healthcheck"]["test"][1:3] == ["python", "-c"]
            assert f"http://127.0.0.1:{port}/healthz" in service["healthcheck"]["test"][-1]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore excludes ``path`` (or a folder holding it)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.lstrip("!")
        if any(
            fnmatch.fnmatch(p, bare) or fnmatch.fnmatch(p, bare.removeprefix("**/"))
            for p in prefixes
        ):
            excluded = not negated
    return excluded


def test_dockerignore_keeps_what_the_build_copies(dockerfile) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    sources = [
        source
        for d in dockerfile
        if d["instruction"] == "COPY" and not d["value"].startswith("--from")
        for source in d["value"].split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source, patterns), f".dockerignore drops {source}"
    assert _ignored("tests/unit/test_hub.py", patterns)
    assert _ignored(".venv/bin/python", patterns)


def test_the_installed_wheel_carries_the_dashboard(tmp_path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("attune-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"attune/_dashboard/{p.relative_to(ROOT / 'dashboard').as_posix()}"
        for p in (ROOT / "dashboard").rglob("*")
        if p.is_file()
    }
    assert shipped
    assert shipped <= names
