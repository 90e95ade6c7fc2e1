"""Fixtures: small traces made by the real ragsim binary during the test run.

The binary is $RAGSIM_BINARY (set by ctest), else the usual build/ragsim.
Each trace is made once per session into pytest's temporary directory.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ANALYSIS = Path(__file__).resolve().parents[1]
SOURCE = Path(os.environ.get("RAGSIM_SOURCE_DIR") or ANALYSIS.parent)
sys.path.insert(0, str(ANALYSIS))

from ragsim_analysis.run import find_binary  # noqa: E402


@pytest.fixture(scope="session")
def binary() -> Path:
    return find_binary()


def _ragsim(binary, *args):
    p = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"ragsim {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}"
    return p


@pytest.fixture(scope="session")
def compare_trace(binary, tmp_path_factory):
    """`ragsim compare` of the vector-DB avalanche, 2 replications of 8 minutes (the naive
    gateway's vector DB is OOM-killed from about 6.5 minutes on). Returns (path, stdout)."""
    out = tmp_path_factory.mktemp("cmp") / "avalanche.h5"
    p = _ragsim(binary, "compare", SOURCE / "scenarios/trap-vectordb-avalanche.yaml", "-o", out,
                "--reps", 2, "--variants", "rate_limit,breaker", "--set", "duration=8m")
    return out, p.stdout


@pytest.fixture(scope="session")
def run_trace(binary, tmp_path_factory):
    """`ragsim run` of one variant of the memory leak: 2 replications of 5 minutes."""
    out = tmp_path_factory.mktemp("run") / "leak.h5"
    _ragsim(binary, "run", SOURCE / "scenarios/trap-memory-leak.yaml", "-o", out, "--reps", 2,
            "--variants", "unbounded", "--set", "duration=5m", "-q")
    return out


@pytest.fixture(scope="session")
def network_trace(binary, tmp_path_factory):
    """`ragsim run` of the two-tier queueing network (the network model: no RAG series)."""
    out = tmp_path_factory.mktemp("net") / "demo.h5"
    _ragsim(binary, "run", SOURCE / "scenarios/demo.yaml", "-o", out, "--reps", 2, "-q")
    return out
