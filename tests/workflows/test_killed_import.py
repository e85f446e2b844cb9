"""An ``ocais ingest`` killed with SIGKILL at any moment: the next command leaves no ``running``
run and ``indexed_cases == cases`` (the real command, in a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.workflows.test_indexing import write_packets

OCAIS = [sys.executable, "-c", "from ocais.cli.main import main; main()"]


def ocais(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OCAIS, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
def test_sigkill_at_any_moment_is_repaired_by_the_next_command(
    tmp_path: Path, tiny_release: Path
) -> None:
    source = write_packets(tmp_path / "in", 600, all_excluded=(5, 77, 400))
    env = {
        **os.environ,
        "OCAIS_DATA_DIR": str(tmp_path / "data"),
        "OCAIS_HPO_DIR": str(tiny_release),
        "OCAIS_CACHE_DIR": str(tmp_path / "cache"),
        "OCAIS_BATCH_SIZE": "20",
        "OCAIS_WORKERS": "1",
    }
    env.pop("OCAIS_STORE_URL", None)
    assert ocais(env, "knowledge", "info").returncode == 0  # compile the cache once
    start = time.perf_counter()
    assert ocais(env, "--json", "ingest", str(source), "--skip-invalid").returncode == 0
    full = time.perf_counter() - start
    assert ocais(env, "--json", "stats").returncode == 0
    killed_while_running = 0
    for fraction in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85):
        # new records each round, so every import has work to be interrupted in
        write_packets(tmp_path / f"in-{fraction}", 600, prefix=f"R{fraction}-")
        child = subprocess.Popen(
            [*OCAIS, "ingest", str(tmp_path / f"in-{fraction}"), "--skip-invalid"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(full * fraction)
        killed_while_running += child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait()
        runs = json.loads(ocais(env, "--json", "runs", "list", "--limit", "100").stdout)
        assert not [r for r in runs if r["status"] == "running"], runs
        stats = ocais(env, "--json", "stats")
        assert stats.returncode == 0, stats.stderr
        data = json.loads(stats.stdout)
        assert data["indexed_cases"] == data["cases"], (fraction, data, stats.stderr)
    assert killed_while_running >= 3  # the kills did land mid-import
