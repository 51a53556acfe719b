"""``make bench``: every benchmark, each beside a baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("bench_decode.py", "bench_pipeline.py", "bench_mllp.py"):
    print(f"\n### {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
