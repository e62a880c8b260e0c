"""The kernel the notebooks run in: this environment's quiet launcher. (The `etl` command against
the real stack: tests/integration/test_cli.py.)"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

from etl_lib.notebook.runner import ensure_kernel, kernel_argv

ETL = str(Path(sys.executable).with_name("etl"))
PAPERMILL = str(Path(sys.executable).with_name("papermill"))


# What papermill prints on stderr as it goes: its paths, the kernel, and the progress bar.
PROGRESS = re.compile(r"^(Input Notebook:|Output Notebook:|Executing notebook with kernel:|Executing: +\d+%|$)")


def test_the_kernel_is_the_projects_quiet_launcher():
    spec = json.loads((Path(KernelSpecManager().find_kernel_specs()[ensure_kernel()]) / "kernel.json").read_text())
    assert spec["argv"] == kernel_argv() and spec["argv"][1:3] == ["-m", "etl_lib.notebook.kernel"]
