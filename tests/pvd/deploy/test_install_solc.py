"""The solc probe of `make setup`: fast, and never fooled by a shim that downloads."""

import os
import time

from tools.install_solc import WRAPPER, answers_version


def fake_solc(tmp_path, body: str):
    path = tmp_path / "solc"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_a_compiler_reporting_the_pinned_version_is_accepted(tmp_path):
    solc = fake_solc(tmp_path, 'echo "Version: 0.8.30+commit.73712a01.Linux.g++"')
    assert answers_version(solc, "0.8.30")


def test_another_version_is_refused(tmp_path):
    solc = fake_solc(tmp_path, 'echo "Version: 0.8.29+commit.ab55807c.Linux.g++"')
    assert not answers_version(solc, "0.8.30")


def test_a_hanging_shim_is_a_quick_no(tmp_path):
    solc = fake_solc(tmp_path, "sleep 30")
    started = time.monotonic()
    assert not answers_version(solc, "0.8.30", timeout=0.5)
    assert time.monotonic() - started < 5


def test_the_wrapper_answers_like_solc():
    assert os.access(WRAPPER, os.X_OK)
    assert answers_version(WRAPPER, "0.8.30")
