"""A file of scripts/ loaded as a module (the scripts are no package), for the tests of the recipes."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str, module_name: str | None = None, register: bool = False) -> ModuleType:
    """scripts/NAME.py as a fresh module called `module_name` (default NAME); with `register`, put in sys.modules
    first (a process pool pickles a script's functions by their module's name)."""
    spec = importlib.util.spec_from_file_location(module_name or name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
