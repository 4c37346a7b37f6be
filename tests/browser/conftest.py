"""Fixtures of the browser tests: the integration harness's two anvil chains and `pvd
relay` subprocesses (tests/integration), a `pvd explorer` subprocess on them, and headless
Chromium (Debian's chromium + chromedriver, driven by Selenium; no browser download).
Screenshots go to reports/browser/ (git-ignored)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from pvd.chain.ports import free_port
from tests.integration import conftest as integration
from tests.integration.harness import (
    ROOT,
    Attester,
    Deployment,
    RpcProxy,
    eventually,
    pvd_command,
    subprocess_env,
)

# the integration tests' fixtures: anvil chains with pvd deployed, attesters, relayers
deployment = integration.deployment
attesters = integration.attesters
relays = integration.relays
pytest_runtest_makereport = integration.pytest_runtest_makereport

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = ROOT / "reports" / "browser"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@dataclass
class Explorer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    payment_proxy: RpcProxy  # the explorer reads the payment chain through it


@pytest.fixture
def explorer(
    deployment: Deployment, attesters: tuple[Attester, ...], tmp_path: Path
) -> Iterator[Explorer]:
    """`pvd explorer` on the deployment (the payment chain through a proxy a test can
    fail), with every attester's metrics endpoint; stopped by its PID."""
    proxy = RpcProxy(deployment.payment_node.url)
    log_path = tmp_path / "explorer.log"
    command = pvd_command(
        "explorer",
        "--payment-manifest", str(deployment.payment_manifest),
        "--business-manifest", str(deployment.business_manifest),
        "--payment-rpc", proxy.url,
        "--business-rpc", deployment.business_node.url,
        "--db", f"sqlite:///{tmp_path / 'index.sqlite'}",
        "--port", str(free_port()),
        *[arg for a in attesters for arg in ("--relayer-metrics", a.metrics_url)],
    )  # fmt: skip
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=subprocess_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def started() -> str | None:
            if process.poll() is not None:
                raise AssertionError(f"pvd explorer exited:\n{log_path.read_text()[-3000:]}")
            found = re.search(r"pvd explorer: (http://\S+)", log_path.read_text())
            return found.group(1) if found else None

        url = eventually(started, "pvd explorer to serve", 60)
        yield Explorer(url, process, log_path, proxy)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        proxy.close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.fail(f"{path} is missing: `make explorer-deps` installs Debian's chromium")
    profile = tempfile.mkdtemp(prefix="pvd-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = SHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
