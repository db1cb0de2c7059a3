"""Exercise checks: one module per notebook on top of a small shared core.

In a notebook::

    from workshop import checks

    checks.nb01.check_kl_gaussians(kl_gaussians)

``checks.nbNN`` modules are imported on first use. The core API, for authors of
those modules, is re-exported here: :func:`check_function`, :func:`check_value`,
:func:`check_custom`, :class:`CheckResult`, :class:`CheckFailed` and
:func:`values_match` (see ``workshop/checks/_core.py`` for an example).
"""

import importlib
import re

from workshop.checks._core import (
    CheckFailed,
    CheckResult,
    check_custom,
    check_function,
    check_value,
    values_match,
)

__all__ = [
    "CheckFailed",
    "CheckResult",
    "check_custom",
    "check_function",
    "check_value",
    "values_match",
]


def __getattr__(name):
    # `checks.nb05` works without a separate `import workshop.checks.nb05`.
    if re.fullmatch(r"nb\d\d", name):
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
