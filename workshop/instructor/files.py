"""Writing files so that a kill, a crash or a full disk never leaves half a file behind.

Each writer writes a temporary file in the target's folder, then moves it in
place with ``os.replace`` (atomic on POSIX and Windows). By hand because the
``atomicwrites`` package is archived and ``os.replace`` is all it takes.
"""

import json
import math
import os
import tempfile
from pathlib import Path


def write_text_atomic(path, text, mode=0o644):
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` through a temporary file.

    ``mode`` is applied before the move (``mkstemp`` makes files private, 0600).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _finite(value, where):
    """Refuse NaN and infinities: the JSON standard has no token for them."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"Expected finite numbers in a JSON file. Received: {value} at {where or 'the top level'}")
    if isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _finite(item, f"{where}[{index}]")


def to_json(payload):
    """``payload`` as indented, strictly valid JSON text (no ``NaN``/``Infinity`` tokens), newline-terminated."""
    _finite(payload, "")
    return json.dumps(payload, indent=2, allow_nan=False) + "\n"


def write_json_atomic(path, payload):
    """Write ``payload`` as strictly valid JSON through a temporary file; ValueError on NaN or infinity."""
    write_text_atomic(path, to_json(payload))


def save_model_atomic(model, path):
    """Save a Keras ``model`` to ``path`` (a ``.keras`` file) through a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
