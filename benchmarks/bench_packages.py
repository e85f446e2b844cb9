"""Size and speed of evidence packages: build (check + sign + write), verify, install at the
creating site, and pull over HTTP into a second site that trusts the first.

Usage: python benchmarks/bench_packages.py RELEASED_SET MODEL_DIR [--repeat 3]

RELEASED_SET is an `ocais synth release` folder, MODEL_DIR an `ocais learn fit` folder fitted on
it. Two temporary data folders act as sites A and B; site A's registry is served by `ocais serve`
on loopback for the pull. Prints one JSON object; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocais.config import load_settings
from ocais.workflows import build_services
from ocais.workflows.sharing import (
    add_trust,
    build_package,
    create_site_key,
    publish_package,
    verify_package,
)

OCAIS = str(Path(sys.executable).parent / "ocais")


def timed(run: Any, repeat: int) -> tuple[float, Any]:
    took, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        took.append(time.perf_counter() - start)
    return round(statistics.median(took), 3), result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("released", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-packages-"))
    a_data, b_data = root / "a", root / "b"
    a = build_services(load_settings(data_dir=a_data, site="site-a"))
    b = build_services(load_settings(data_dir=b_data, site="site-b"))
    key = create_site_key(a)
    create_site_key(b)
    (root / "KEY.json").write_text(json.dumps(key.as_dict()), encoding="utf-8")
    add_trust(b, str(root / "KEY.json"), None)
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
    for kind, source, name in (("dataset", args.released, "synth"), ("model", args.model, "dev")):
        out = root / f"{name}.tar.gz"
        build_s, built = timed(
            lambda k=kind, s=source, n=name, o=out: build_package(
                a, k, s, name=n, version="1.0.0", out=o
            ),
            args.repeat,
        )
        verify_s, _ = timed(lambda o=out: verify_package(b, o), args.repeat)
        install_s, _ = timed(lambda o=out: publish_package(a, o), 1)
        payload = sum(f.size for f in built.manifest.files)
        figures[kind] = {
            "files": len(built.manifest.files),
            "payload_bytes": payload,
            "package_bytes": built.size,
            "compression": round(built.size / payload, 3),
            "build_s": build_s,
            "verify_s": verify_s,
            "install_s": install_s,
        }
    port = free_port()
    env = dict(os.environ, OCAIS_DATA_DIR=str(a_data), OCAIS_SITE="site-a")
    server = subprocess.Popen(
        [OCAIS, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/v1/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        env_b = dict(os.environ, OCAIS_DATA_DIR=str(b_data), OCAIS_SITE="site-b")
        for kind, name in (("dataset", "synth"), ("model", "dev")):
            start = time.perf_counter()
            subprocess.run(
                [OCAIS, "--json", "package", "pull", name, "--from", url],
                env=env_b,
                check=True,
                capture_output=True,
            )
            figures[kind]["pull_cli_s"] = round(time.perf_counter() - start, 3)
    finally:
        server.terminate()
        server.wait(15)
        a.close()
        b.close()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
