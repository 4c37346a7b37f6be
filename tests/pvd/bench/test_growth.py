"""pvd.bench.growth: the peak memory it reports is the process's own high-water mark."""

from __future__ import annotations

import subprocess
import sys

from pvd.bench.growth import peak_rss_kib


def test_the_peak_rss_of_a_process_follows_what_it_allocated_and_is_none_once_it_is_gone():
    code = (
        "import sys; block = bytearray(64 * 1024 * 1024); "
        "sys.stdout.write('ok\\n'); sys.stdout.flush(); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ok\n"
        peak = peak_rss_kib(child.pid)
        assert peak is not None and peak >= 64 * 1024  # the 64 MiB block, touched by zeroing
    finally:
        child.communicate(b"")
    assert peak_rss_kib(child.pid) is None
