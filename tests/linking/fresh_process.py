"""Run a snippet in a fresh interpreter: what does it import?"""

import subprocess
import sys


def imports_module(script: str, module: str) -> bool:
    """Whether running ``script`` in a fresh interpreter imports ``module`` (the script must succeed)."""
    probe = f"{script}\nimport sys\nprint({module!r} in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1] == "True"
