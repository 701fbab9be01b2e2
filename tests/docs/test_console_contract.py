"""The operator console's files agree with each other and with the API: nginx.conf
sends the API's security headers on every location and proxies /api to the
compose backend; Dockerfile.frontend builds what vite.config.ts says into what
nginx serves; the guide describes the frontend service; the npm lock names no
registry host."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from docs_support import REPO, read

from autopack.api.console import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from autopack.settings import DEFAULT_PORT, Settings
from container_support import compose

GUIDE = "docs/DOCKER_DEPLOYMENT_GUIDE.md"


def _locations(conf: str) -> dict[str, str]:
    """`location` name -> its block's text (blocks hold no nested braces)."""
    conf = re.sub(r"#[^\n]*", "", conf)
    return {
        m.group(1).strip(): m.group(2) for m in re.finditer(r"location\s+([^{]+)\{([^}]*)\}", conf)
    }


def _headers(block: str) -> dict[str, str]:
    return dict(re.findall(r'add_header\s+(\S+)\s+"([^"]*)"\s+always;', block))


def test_every_nginx_location_sends_the_api_security_headers() -> None:
    locations = _locations(read("nginx.conf"))
    assert set(locations) == {"/api/", "= /health", "/assets/", "/"}
    for name, block in locations.items():
        sent = _headers(block)
        for header, value in SECURITY_HEADERS:
            assert sent.get(header) == value, (name, header)


def test_the_csp_forbids_inline_code_and_framing() -> None:
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY


def test_nginx_proxies_api_to_the_compose_backend() -> None:
    locations = _locations(read("nginx.conf"))
    target = f"proxy_pass http://backend:{DEFAULT_PORT};"
    assert target in locations["/api/"]
    assert target in locations["= /health"]
    assert "backend" in compose()["services"]
    assert "try_files $uri /index.html;" in locations["/"]


def _stages() -> list[list[tuple[str, str]]]:
    text = re.sub(r"\\\n", " ", read("Dockerfile.frontend"))
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), rest))
    return stages


def test_dockerfile_frontend_builds_the_vite_output_into_nginx() -> None:
    build, serve = _stages()
    assert build[0][1].startswith("node:")
    assert build[0][1].endswith(" AS build")
    runs = [args for word, args in build if word == "RUN"]
    assert runs[0].startswith("npm ci")
    assert "npm run build" in runs
    for word, args in build:
        if word == "COPY":
            *sources, _ = args.split()
            assert all((REPO / s).exists() for s in sources), args
    out_dir = re.search(r'outDir:\s*"([^"]+)"', read("vite.config.ts"))
    assert out_dir is not None
    assert (REPO / "src/frontend" / out_dir.group(1)).resolve() == (
        REPO / Settings.model_fields["console_dir"].default
    )
    copies = [args for word, args in serve if word == "COPY"]
    assert "--from=build /app/dist/console /usr/share/nginx/html" in copies
    assert "nginx.conf /etc/nginx/conf.d/default.conf" in copies
    assert "nginx-unprivileged" in serve[0][1]  # no root in the serving container
    listen = re.search(r"listen (\d+);", read("nginx.conf"))
    assert listen is not None
    assert [args for word, args in serve if word == "EXPOSE"] == [listen.group(1)]
    ports = compose()["services"]["frontend"]["ports"]
    assert ports == [f"127.0.0.1:{listen.group(1)}:{listen.group(1)}"]


def test_the_guide_describes_the_frontend_service() -> None:
    section = read(GUIDE).split("\n### frontend\n", 1)[1].split("\n### ", 1)[0]
    service = compose()["services"]["frontend"]
    assert f"`{service['image']}`" in section
    assert f"`{service['build']['dockerfile']}`" in section
    for port in service["ports"]:
        assert f"`{port}`" in section
    assert service["depends_on"]["backend"]["condition"] == "service_healthy"


def test_npm_scripts_and_dev_server() -> None:
    package = json.loads(read("package.json"))
    assert set(package["scripts"]) >= {"dev", "build", "test"}
    assert shlex.split(package["scripts"]["test"]) == ["vitest", "run"]
    config = read("vite.config.ts")
    assert "port: 3000" in config
    assert f'"/api": {{ target: "http://127.0.0.1:{DEFAULT_PORT}"' in config


def test_the_npm_lock_names_no_registry_host() -> None:
    lock = json.loads(read("package-lock.json"))
    assert lock["lockfileVersion"] >= 3
    packages = lock["packages"]
    assert all("resolved" not in entry for entry in packages.values())
    assert all(
        "integrity" in entry for name, entry in packages.items() if name and not entry.get("link")
    )
    assert "omit-lockfile-registry-resolved=true" in read(".npmrc")
    assert "registry" not in read("package-lock.json")


@pytest.mark.parametrize(
    "lock", ["package-lock.json", "requirements.lock.txt", "requirements-dev.lock.txt"]
)
def test_no_lock_file_records_a_url(lock: str) -> None:
    """Locks pin names, versions and hashes only: no download, index or funding URL
    (npm writes funding URLs into its lock; they are stripped after `npm install`)."""
    assert "://" not in read(lock)
