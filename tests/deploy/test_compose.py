"""docker-compose.yml, validated without a Docker engine: services, health checks,
dependencies, volumes, and no secret written into the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_the_services_are_api_postgres_and_minio_with_bucket_setup() -> None:
    services = _compose()["services"]
    assert set(services) == {"api", "proxy", "postgres", "minio", "minio-setup"}
    for name in ("api", "proxy", "postgres", "minio"):
        check = services[name]["healthcheck"]
        assert check["test"] and check["interval"] and check["retries"], name
    api = services["api"]
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "minio-setup": {"condition": "service_completed_successfully"},
    }
    assert services["minio-setup"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert api["command"][0] == "serve"


def test_the_evidence_bucket_has_object_lock_and_versioning() -> None:
    script = " ".join(_compose()["services"]["minio-setup"]["command"])
    assert "mc mb --ignore-existing --with-lock local/evidence" in script
    assert "mc version enable local/evidence" in script
    env = _compose()["services"]["api"]["environment"]
    assert env["INQUIRY_LEDGER_S3_BUCKET"] == "evidence"
    assert int(env["INQUIRY_LEDGER_S3_RETENTION_DAYS"]) > 0
    assert env["INQUIRY_LEDGER_EVIDENCE_ENCRYPTION"] == "on"
    assert env["INQUIRY_LEDGER_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["INQUIRY_LEDGER_DATABASE_URL"].endswith("@postgres:5432/ledger")


def test_data_lives_in_named_volumes() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    used = {
        v.split(":")[0]
        for s in compose["services"].values()
        for v in s.get("volumes", [])
        if not v.startswith("./")  # the proxy's read-only config file
    }
    assert used == declared == {"pgdata", "miniodata", "ledgerhome"}


def test_no_secret_is_written_into_the_file() -> None:
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|KEK|ROOT_USER", key):
                assert REQUIRED_VARIABLE.match(str(value)), f"{name}.{key} must come from the env"
    url = _compose()["services"]["api"]["environment"]["INQUIRY_LEDGER_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in url


def test_the_only_port_is_the_proxys_on_loopback() -> None:
    services = _compose()["services"]
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:8080"]
    assert all("ports" not in s for name, s in services.items() if name != "proxy")


def test_two_api_replicas_behind_a_proxy_that_streams_bodies() -> None:
    """Several API machines on one database and one bucket (issue 18): the replicas
    share nothing else but the home volume's log key; the proxy must not buffer bodies
    (the API refuses an unauthenticated upload from its headers) and must not retry a
    request a replica answered (an append is retried by its client, with its command id)."""
    services = _compose()["services"]
    assert services["api"]["deploy"]["replicas"] >= 2
    assert services["proxy"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    mount = services["proxy"]["volumes"][0]
    source, target = mount.split(":")[:2]
    assert target == "/etc/nginx/nginx.conf" and mount.endswith(":ro")
    conf = (ROOT / source).read_text()
    upstream = re.search(r"upstream (\w+) \{([^}]*)\}", conf)
    assert upstream and "server api:8000" in upstream.group(2)
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    assert "proxy_request_buffering off;" in conf
    assert re.search(r"proxy_next_upstream error timeout;", conf)  # never http_5xx/non_idempotent
    limit = re.search(r"client_max_body_size (\d+)m;", conf)
    assert limit and int(limit.group(1)) * 1024 * 1024 > 5 * 1024**3  # the evidence limit


def test_the_image_runs_the_cli_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["inquiry-ledger"]' in dockerfile and "\nUSER ledger\n" in dockerfile


def test_the_image_has_what_the_pdf_report_needs_and_ships_the_templates() -> None:
    """WeasyPrint loads pango at run time (a slim image lacks it: PDF reports would fail
    only when asked for), and the report, page templates and static files are package data
    that `pip install .` must carry into the image."""
    import tomllib

    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"):
        assert package in dockerfile, package
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    assert package_data["projections"] == ["templates/*.j2"]
    assert set(package_data["api.http.pages"]) == {"templates/*.html", "static/*"}
    assert package_data["api.application"] == ["data/*.csv"]
