"""A student's kernel, walled off: scrubbed environment, private folders, read-only package, limits, nothing left behind.

:class:`Sandbox` prepares, for one submission, a private folder (``home``,
``work``, ``io`` and a read-only copy of the ``workshop`` package without
:mod:`workshop.instructor`, so without the instructor-only cases and the
grader) and starts an IPython kernel there:

* **environment**: only ``PATH``, ``HOME`` (the private ``home``), ``LANG``,
  ``MPLBACKEND``, ``WORKSHOP_FAST``, ``MNIST_PATH`` (when set) and
  ``PYTHONPATH`` (the package copy) and a few quieting variables, none of the
  instructor's own;
* **limits** (``resource.setrlimit``): address space (``--memory``), CPU
  seconds, file size, number of processes (it counts threads, and the
  kernel's TensorFlow starts many: the default leaves room for them);
* **isolation** ``"namespace"`` (Linux, where ``unshare`` works): new mount and
  PID namespaces and a new root (``chroot``) that holds only the system folders
  (``/usr``, ``/etc``, ``/dev``, ``/sys`` ...), the Python installation and its
  packages and the MNIST file, all read-only, plus private ``/tmp``,
  ``/var/tmp`` and ``/dev/shm`` and the private folder: the repository (and any
  other clone holding the instructor's tools, which an editable install would
  otherwise import), the instructor's home, the submissions and the reports are
  not there at all. ``/proc`` shows only the kernel's processes. Started as
  root, the kernel then runs as an unprivileged user id of its own
  (:data:`FIRST_UID` + n; so the process limit holds per kernel and nothing
  outside its folders is writable); otherwise in a nested user namespace whose
  mounts it cannot undo. **``"plain"``** (anywhere else): the same folders,
  environment and limits, a new session; the package copy is made read-only by
  its permissions (and checked after the run), but the kernel runs as the
  instructor's user and can read and write what that user can: use it only
  where namespaces are unavailable.
* **cleanup**: the kernel's PID namespace (or its process group and every
  process carrying the run's marker in its environment) is killed, and the
  private folder removed.

``Sandbox.isolation`` says which of the two was used; the grader records it.
"""

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "PackageSnapshot", "Sandbox", "namespace_available"]

# Started as root, each kernel runs as a user of its own from this range (no account needed): the process
# limit then counts one kernel's processes and threads only, and kernels cannot signal each other.
FIRST_UID, UIDS = 61000, 2000
# Imported before the student's first cell, outside its time limit: the time a loaded machine takes to import
# TensorFlow must not make a student's cell time out.
PRELOAD = "import numpy, keras, tensorflow, matplotlib\nmatplotlib.use('Agg')"
PRELOAD_TIMEOUT = 300
_uids = itertools.count()


@dataclass
class Limits:
    memory_mb: int = 6144  # address space; TensorFlow reserves a lot of it without using it
    cpu_seconds: int = 1800
    file_mb: int = 512
    processes: int = 4096  # threads count too; only enforced for an unprivileged user
    tmp_mb: int = 512


@dataclass
class Outcome:
    status: str  # "ok", "error", "timeout", "dead"
    ename: str = ""
    evalue: str = ""


_NAMESPACE = {}


def _unshare_prefix():
    base = ["unshare", "--mount", "--pid", "--fork", "--kill-child"]
    if os.geteuid() != 0:
        base.insert(1, "--user")
        base.insert(2, "--map-root-user")
    return base


def namespace_available():
    """True when ``unshare`` can make mount and PID namespaces here (checked once)."""
    if "ok" not in _NAMESPACE:
        ok = False
        if sys.platform.startswith("linux") and shutil.which("unshare"):
            try:
                done = subprocess.run(
                    [*_unshare_prefix(), sys.executable, "-c", "import os; assert os.getpid() == 1"],
                    capture_output=True,
                    timeout=30,
                )
                ok = done.returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
        _NAMESPACE["ok"] = ok
    return _NAMESPACE["ok"]


class PackageSnapshot:
    """The ``workshop`` package's files as they were when grading began (bytes in memory).

    Every kernel gets its copy from this snapshot, so a submission that managed to change the
    installed package (possible with ``plain`` isolation, where the kernel runs as the
    instructor's user) cannot change what the next one runs; :meth:`restore` puts the
    package's files back as they were and says what had changed.
    """

    def __init__(self, source=None):
        import workshop

        self.source = Path(source or Path(workshop.__file__).resolve().parent)
        self.files = self._read()

    def _read(self):
        files = {}
        for path in sorted(self.source.rglob("*")):
            relative = path.relative_to(self.source)
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
                files[relative.as_posix()] = path.read_bytes()
        return files

    def write(self, destination, exclude=("instructor",)):
        """Write the package (without ``exclude``'s top-level folders) to ``destination/workshop``, read-only."""
        target = Path(destination) / "workshop"
        for relative, data in self.files.items():
            if relative.split("/")[0] in exclude:
                continue
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o444)
        for root, _dirs, _files in os.walk(target):
            os.chmod(root, 0o555)
        return target

    def restore(self):
        """Put back every file that changed, disappeared or appeared since the snapshot; return their names."""
        changed = []
        now = self._read()
        for relative, data in self.files.items():
            if now.get(relative) != data:
                path = self.source / relative
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                changed.append(relative)
        for relative in sorted(set(now) - set(self.files)):
            with contextlib.suppress(OSError):
                (self.source / relative).unlink()
            changed.append(relative)
        return changed


def copy_package(destination, snapshot=None):
    """Copy the ``workshop`` package (without ``instructor/`` and caches) under ``destination``; make it read-only."""
    return (snapshot or PackageSnapshot()).write(destination)


def installed_sources():
    """Folders holding another ``workshop`` package with its instructor tools, found through site-packages.

    An editable install (``pip install -e``) adds a finder that imports ``workshop.instructor``
    (and so the instructor-only cases) from the repository even when ``PYTHONPATH`` puts the
    kernel's copy first: those folders are hidden from the kernel too.
    """
    import ast
    import re
    import site

    roots = set()
    folders = {p for p in sys.path if p and "site-packages" in p and os.path.isdir(p)}
    with contextlib.suppress(Exception):
        folders.update(p for p in site.getsitepackages() if os.path.isdir(p))
    for folder in folders:
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            try:
                if entry.startswith("__editable__") and entry.endswith("_finder.py"):
                    with open(path, encoding="utf-8") as handle:
                        found = re.search(r"^MAPPING\b[^=]*=\s*(\{.*?\})\s*$", handle.read(), re.M | re.S)
                    for target in ast.literal_eval(found.group(1)).values() if found else ():
                        if (Path(target) / "instructor").is_dir():
                            roots.add(Path(target).resolve().parent)
                elif entry.endswith(".pth"):
                    with open(path, encoding="utf-8") as handle:
                        for line in handle:
                            line = line.strip()
                            if line and not line.startswith(("#", "import")) and (Path(line) / "workshop" / "instructor").is_dir():
                                roots.add(Path(line).resolve())
            except (OSError, ValueError, SyntaxError):
                continue
    return sorted(roots)


def _tasks_of(uid):
    """Processes and threads of user ``uid`` now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    fields = dict(line.split(":", 1) for line in handle if ":" in line)
                if int(fields["Uid"].split()[0]) == uid:
                    count += int(fields.get("Threads", "1"))
            except (OSError, KeyError, ValueError):
                continue
    return count


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in Path(folder).rglob("*") if p.is_file())


# The program that runs as PID 1 of the new namespaces: mounts, limits, then the kernel as its child.
_INIT = r"""
import ctypes, json, os, resource, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
def mount(src, dst, fstype, flags, data=None):
    r = libc.mount(src.encode() if src else None, dst.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, "mount %s on %s: %s" % (src, dst, os.strerror(e)))
def bind(src, dst, writable=False):
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    mount(src, dst, None, MS_BIND | MS_REC)
    if not writable:
        try:
            mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        except OSError:
            pass
mount(None, "/", None, MS_REC | MS_PRIVATE)
# A new root holding only what the kernel needs; everything else on the machine is absent from its view.
root = cfg["root"]
mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
# Private temporary folders first, so that an allowed path under /tmp (a virtual environment in a
# checkout there, as CI makes) is bound on top of them rather than hidden beneath them; /dev/shm after
# /dev is bound.
def private_tmp(path):
    os.makedirs(root + path, exist_ok=True)
    mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV, "size=%dm,mode=1777" % cfg["tmp_mb"])
for path in ("/tmp", "/var/tmp"):
    private_tmp(path)
for path in cfg["allow"]:
    if not os.path.lexists(path) or os.path.lexists(root + path):
        continue
    if os.path.islink(path):
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        os.symlink(os.readlink(path), root + path)
    else:
        bind(path, root + path)
private_tmp("/dev/shm")
inside = root + cfg["inside"]
for name in ("home", "work", "io", "package"):
    bind(os.path.join(cfg["stage"], name), os.path.join(inside, name), writable=name != "package")
os.makedirs(root + "/proc", exist_ok=True)
mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV)
mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=755")
os.chroot(root)
os.chdir("/")
limits = cfg["limits"]
pid = os.fork()
if pid == 0:
    os.setsid()
    for name, value in limits.items():
        if value:
            resource.setrlimit(getattr(resource, name), (value, value))
    if cfg["drop"]:
        os.setgroups([])
        os.setgid(cfg["drop"])
        os.setuid(cfg["drop"])
    os.chdir(os.path.join(cfg["inside"], "work"))
    argv = cfg["argv"]
    if cfg["nested"]:
        argv = ["unshare", "--user", "--map-user=%d" % cfg["uid"], "--map-group=%d" % cfg["gid"], "--"] + argv
    os.execvpe(argv[0], argv, cfg["env"])
while True:
    try:
        done, status = os.wait()
    except ChildProcessError:
        break
    if done == pid:
        break
"""


class Sandbox:
    """One student's kernel; use as a context manager. ``execute(code, timeout)`` returns an :class:`Outcome`."""

    def __init__(self, limits=None, isolation="auto", fast=True, extra_hidden=(), threads=None, preload=PRELOAD, snapshot=None):
        self.limits = limits or Limits()
        self.automatic = isolation == "auto"
        if isolation == "auto":
            isolation = "namespace" if namespace_available() else "plain"
        elif isolation == "namespace" and not namespace_available():
            raise ValueError("Expected Linux mount and PID namespaces for --isolation namespace. Received: `unshare` does not work here")
        elif isolation not in ("namespace", "plain"):
            raise ValueError(f"Expected isolation 'auto', 'namespace' or 'plain'. Received: {isolation!r}")
        self.isolation = isolation
        self.fast, self.extra_hidden, self.threads = fast, [str(Path(p).resolve()) for p in extra_hidden], threads
        self.token = uuid.uuid4().hex
        self.stage = Path(tempfile.mkdtemp(prefix="workshop-grade-"))
        self.inside = "/tmp/workshop-grade" if isolation == "namespace" else str(self.stage)
        for name in ("home", "work", "io", "root"):
            (self.stage / name).mkdir()
        copy_package(self.stage / "package", snapshot)
        self.package_state = _snapshot(self.stage / "package")
        self.uid = FIRST_UID + next(_uids) % UIDS if isolation == "namespace" and os.geteuid() == 0 else None
        if self.uid is not None:
            for name in ("home", "work", "io"):
                os.chown(self.stage / name, self.uid, self.uid)
            os.chmod(self.stage, 0o755)
        self.io_outside = str(self.stage / "io")
        self.io_inside = os.path.join(self.inside, "io")
        self.process = self.client = None
        self.starts, self.preload = 0, preload

    # -- environment -------------------------------------------------------
    def environment(self):
        path = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]))
        env = {
            "PATH": path,
            "HOME": os.path.join(self.inside, "home"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "MPLBACKEND": "Agg",
            "WORKSHOP_FAST": "1" if self.fast else "0",
            "WORKSHOP_STRICT_CHECKS": "0",
            "PYTHONPATH": os.path.join(self.inside, "package"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "MPLCONFIGDIR": os.path.join(self.inside, "home", ".matplotlib"),
            "TMPDIR": os.path.join(self.inside, "work") if self.isolation == "plain" else "/tmp",
            "WORKSHOP_GRADE_RUN": self.token,
        }
        if os.environ.get("MNIST_PATH"):
            env["MNIST_PATH"] = os.environ["MNIST_PATH"]
        if self.threads:
            for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
                env[name] = str(self.threads)
        return env

    def _rlimits(self):
        mb = 1024 * 1024
        processes = self.limits.processes
        if self.uid is None and processes:  # the kernel shares its user id: the limit counts that user's other tasks too
            processes += _tasks_of(os.getuid())
        return {
            "RLIMIT_AS": self.limits.memory_mb * mb if self.limits.memory_mb else 0,
            "RLIMIT_CPU": self.limits.cpu_seconds,
            "RLIMIT_FSIZE": self.limits.file_mb * mb,
            "RLIMIT_NPROC": processes,
            "RLIMIT_CORE": 0,
        }

    @property
    def processes_limited(self):
        """Whether the process limit holds (Linux does not apply it to root)."""
        return self.uid is not None or os.geteuid() != 0

    def _allowed(self):
        """What the kernel sees of the machine (read-only): the system, Python and its packages, MNIST."""
        paths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/dev", "/sys"]
        paths += [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]
        paths += [p for p in sys.path if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p)]
        if os.environ.get("MNIST_PATH") and os.path.exists(os.environ["MNIST_PATH"]):
            paths.append(os.path.abspath(os.environ["MNIST_PATH"]))
        unique = []
        for path in sorted({os.path.abspath(p) for p in paths}, key=len):
            if not any(path == u or path.startswith(u.rstrip("/") + "/") for u in unique):
                unique.append(path)
        return unique

    def _hidden(self):
        import workshop

        repository = Path(workshop.__file__).resolve().parent.parent
        hide = {str(repository), os.path.expanduser("~"), *self.extra_hidden, *(str(p) for p in installed_sources())}
        if os.environ.get("HOME"):
            hide.add(str(Path(os.environ["HOME"]).resolve()))
        return sorted(p for p in hide if p not in ("/", "/usr", "/tmp") and os.path.isdir(p))

    def _exposed(self):
        paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
        paths.update(p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p)
        if os.environ.get("MNIST_PATH"):
            paths.add(os.path.dirname(os.path.abspath(os.environ["MNIST_PATH"])))
        return sorted(paths)

    # -- kernel ------------------------------------------------------------
    def start(self):
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        self.stop()
        self.starts += 1
        connection = str(self.stage / "io" / f"kernel-{self.starts}.json")
        write_connection_file(connection, ip="127.0.0.1", key=uuid.uuid4().hex.encode())
        inside_connection = os.path.join(self.io_inside, os.path.basename(connection))
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", inside_connection, "--HistoryManager.enabled=False"]
        env = self.environment()
        if self.isolation == "namespace":
            root = os.geteuid() == 0
            if root:
                os.chown(connection, self.uid, self.uid)
            config = {
                "stage": str(self.stage),
                "inside": self.inside,
                "root": str(self.stage / "root"),
                "allow": self._allowed(),
                "tmp_mb": self.limits.tmp_mb,
                "limits": self._rlimits(),
                "drop": self.uid if root else 0,
                "nested": not root,
                "uid": os.getuid(),
                "gid": os.getgid(),
                "argv": argv,
                "env": env,
            }
            command = [*_unshare_prefix(), sys.executable, "-I", "-c", _INIT, json.dumps(config)]
            self.process = subprocess.Popen(
                command,
                env={"PATH": env["PATH"]},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        else:
            limits = self._rlimits()

            def preexec():
                import resource

                for name, value in limits.items():
                    if value and not (name == "RLIMIT_NPROC" and os.geteuid() == 0):
                        with contextlib.suppress(ValueError, OSError):
                            resource.setrlimit(getattr(resource, name), (value, value))

            self.process = subprocess.Popen(
                argv,
                env=env,
                cwd=str(self.stage / "work"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=preexec,
            )
        self._drainer = threading.Thread(target=self._drain, args=(self.process,), daemon=True)
        self._drainer.start()
        client = BlockingKernelClient()
        client.load_connection_file(connection)
        client.start_channels()
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                client.stop_channels()
                if self.isolation == "namespace" and self.automatic and self.starts == 1 and "mount" in self.last_words():
                    # namespaces exist but this system refuses the mounts: plain isolation from now on
                    _NAMESPACE["ok"], self.isolation = False, "plain"
                    self._use_plain_folders()
                    return self.start()
                raise RuntimeError(f"the kernel did not start ({self.last_words()})")
            try:
                client.wait_for_ready(timeout=2)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    client.stop_channels()
                    raise RuntimeError("the kernel did not start within 120 s") from None
        self.client = client
        if self.preload:
            outcome = self.execute(self.preload, PRELOAD_TIMEOUT)
            if outcome.status != "ok":
                self.stop()
                raise RuntimeError(f"the kernel could not import TensorFlow and Keras ({outcome.status} {outcome.ename})")
        return self

    def _use_plain_folders(self):
        self.uid = None
        self.inside = str(self.stage)
        self.io_inside = os.path.join(self.inside, "io")

    def _drain(self, process):
        self._stderr = b""
        with contextlib.suppress(Exception):
            for line in process.stderr:
                self._stderr = (self._stderr + line)[-4000:]

    def last_words(self):
        if getattr(self, "_drainer", None) is not None:
            self._drainer.join(timeout=2)
        text = getattr(self, "_stderr", b"").decode("utf-8", "replace").strip().splitlines()
        return text[-1][:200] if text else "no message"

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def execute(self, code, timeout):
        """Run ``code`` in the kernel; "timeout" and "dead" leave the kernel stopped (start it again to go on)."""
        if not self.alive():
            return Outcome("dead")
        client = self.client
        msg_id = client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):
                while client.iopub_channel.msg_ready():
                    client.iopub_channel.get_msg(timeout=0)
            try:
                reply = client.get_shell_msg(timeout=0.2)
            except Exception:  # queue.Empty
                reply = None
            if reply is not None and reply.get("parent_header", {}).get("msg_id") == msg_id:
                content = reply.get("content", {})
                if content.get("status") == "ok":
                    return Outcome("ok")
                return Outcome("error", str(content.get("ename", "")), str(content.get("evalue", "")))
            if not self.alive():
                self.stop()
                return Outcome("dead")
            if time.monotonic() > deadline:
                self.stop()
                return Outcome("timeout")

    def stop(self):
        """Kill the kernel and everything it started."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.stop_channels()
            self.client = None
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            process.wait(timeout=10)
        self._kill_marked()

    def _kill_marked(self):
        """Kill any process whose environment carries this run's marker (daemons that left the session)."""
        marker = f"WORKSHOP_GRADE_RUN={self.token}".encode()
        for _ in range(3):
            found = False
            for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
                if not entry.isdigit() or int(entry) == os.getpid():
                    continue
                try:
                    with open(f"/proc/{entry}/environ", "rb") as handle:
                        if marker in handle.read().split(b"\0"):
                            os.kill(int(entry), signal.SIGKILL)
                            found = True
                except OSError:
                    continue
            if not found:
                break
            time.sleep(0.1)

    def package_intact(self):
        return _snapshot(self.stage / "package") == self.package_state

    def close(self):
        self.stop()
        for root, dirs, _files in os.walk(self.stage):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, name), 0o755)
        with contextlib.suppress(OSError):
            os.chmod(self.stage, 0o755)
        shutil.rmtree(self.stage, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
