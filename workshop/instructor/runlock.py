"""The lock of a run folder being trained: ``.train.lock``, holding the process id of its run.

``python -m workshop train`` holds the lock from the moment it claims its run
folder until it ends, however it ends. Another ``train`` aiming at the same
folder, ``--overwrite`` included, is refused while the lock's process lives, so
the files of a run in progress are never deleted and two runs never mix their
files in one folder.

The lock is an advisory ``flock`` on the file (``fcntl``, POSIX), which the
operating system releases when the process ends, even killed: a lock file left
behind by a dead process is stale and is taken over. Where ``fcntl`` is missing
(Windows), the process id written in the file decides: the lock is stale when no
process has that id any more.
"""

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_FILE = ".train.lock"


class RunFolderBusy(RuntimeError):
    """The run folder is being trained by another live process (``pid``)."""

    def __init__(self, folder, pid):
        who = f"process {pid}" if pid else "another process"
        super().__init__(
            f"{folder} is being trained by {who} (its lock: {Path(folder) / LOCK_FILE}); "
            "wait for that run to end or stop it, or choose another --output"
        )
        self.folder = Path(folder)
        self.pid = pid


def _read_pid(path):
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid):
    """True if a process with id ``pid`` exists (POSIX: ``kill(pid, 0)``; one we may not signal counts)."""
    if not pid or pid < 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # Windows: os.kill(pid, 0) is not a probe there
        return False
    return True


class RunLock:
    """The lock of one run folder; :meth:`acquire` it, then :meth:`release` it (or use ``with``).

    Attributes:
        path: the lock file, ``<folder>/.train.lock``.
        took_over: the process id of a dead run whose stale lock :meth:`acquire` took over, else None.
    """

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_FILE
        self.took_over = None
        self._fd = None

    @property
    def held(self):
        return self._fd is not None

    def acquire(self):
        """Take the lock, or raise :class:`RunFolderBusy` naming the live process that holds it."""
        if self._fd is not None:
            return self
        if fcntl is None:
            return self._acquire_by_pid()
        while True:
            previous = _read_pid(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunFolderBusy(self.path.parent, _read_pid(self.path)) from None
            # Locked; but if the file was replaced or removed in the meantime (a run released it), lock the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        self.took_over = previous if previous and previous != os.getpid() else None
        self._write_pid()
        return self

    def _acquire_by_pid(self):
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                pid = _read_pid(self.path)
                if pid_alive(pid) and pid != os.getpid():
                    raise RunFolderBusy(self.path.parent, pid) from None
                self.took_over = pid
                self.path.unlink(missing_ok=True)
        self._fd = fd
        self._write_pid()
        return self

    def _write_pid(self):
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(self._fd)

    def release(self):
        """Remove the lock file and let the lock go (nothing if not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: nobody can take a file about to vanish
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def __del__(self):
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
