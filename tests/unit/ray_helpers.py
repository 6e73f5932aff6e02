"""What Ray workers import by name in the Ray tests: a fake embedder factory, and a local cluster's start and stop."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import BagOfWordsEmbedder

START_SECONDS = 120


def bag_of_words(spec: str, threads: int | None = None) -> BagOfWordsEmbedder:
    """The fake embedder, as an actor's embedder factory (spec and threads are ignored)."""
    return BagOfWordsEmbedder()


class LocalRayCluster:
    """`ray start --head` on loopback plus one worker node, each with one CPU, in a temporary folder of its own; `stop`
    ends exactly the processes started here (found by that folder), never another Ray on the machine."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.temp = Path(tempfile.mkdtemp(prefix="cl-ray-", dir="/tmp"))  # short: Ray's socket paths are limited
        self.ray = str(Path(sys.executable).with_name("ray"))

    def start(self) -> str:
        common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
        # Token authentication is off for this loopback-only cluster: with a ~/.ray/auth_token (left by any earlier
        # ray.init) Ray 2.60 turns it on for the head but not for the worker node, which then cannot join.
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
        subprocess.run([self.ray, "start", "--head", f"--port={self.port}", "--include-dashboard=false",
                        f"--temp-dir={self.temp}", *common], check=True, capture_output=True, timeout=START_SECONDS,
                       env=env)
        subprocess.run([self.ray, "start", f"--address={self.address}", *common], check=True, capture_output=True,
                       timeout=START_SECONDS, env=env)
        return self.address

    def stop(self) -> None:
        import psutil

        ours = []
        for process in psutil.process_iter(["cmdline"]):
            if str(self.temp) in " ".join(process.info["cmdline"] or []):
                ours.append(process)
        family = {child.pid: child for process in ours for child in process.children(recursive=True)}
        family.update({process.pid: process for process in ours})
        for process in family.values():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(list(family.values()), timeout=30)
        shutil.rmtree(self.temp, ignore_errors=True)
