"""Execute solution notebooks in place, top to bottom, each on a fresh kernel."""

import copy
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from workshop.instructor.authoring.files import folders, read, solution_files, write
from workshop.instructor.authoring.markers import KERNELSPEC


class NotebookRunError(RuntimeError):
    """A solution notebook that failed (or timed out) while being executed."""


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run; the kernel was shut down. ``signum`` says which."""

    def __init__(self, signum):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def _select(names, solution_paths):
    if not names:
        return list(solution_paths)
    selected = []
    for raw in names:
        name = Path(raw).name
        stem = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
        matches = [p for p in solution_paths if p.stem == stem]
        if not matches:
            matches = [p for p in solution_paths if p.stem.split("_", 1)[0] == stem]
        if len(matches) != 1:
            available = ", ".join(p.stem for p in solution_paths) or "none"
            what = "matches no" if not matches else "matches more than one"
            raise NotebookRunError(
                f"Expected a notebook number, name or file name. Received: {raw!r}, which "
                f"{what} solution notebook (available: {available})."
            )
        if matches[0] not in selected:
            selected.append(matches[0])
    return selected


def _current_env_kernel_manager():
    """An asynchronous kernel manager whose ``python3`` is the interpreter running this code.

    It must be the asynchronous kind: with a blocking manager, nbclient's wait
    for output blocks its event loop, so neither the per-cell timeout nor the
    kernel's death is ever noticed and a cell that loops forever hangs the run.
    """
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class CurrentEnvKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecManager())


def _last_line(text):
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return re.sub(r"\x1b\[[0-9;]*m", "", lines[-1]) if lines else "unknown error"


def _client_class():
    """nbclient's NotebookClient, remembering which signal (SIGINT, SIGTERM) made it shut the kernel down.

    While a notebook runs, nbclient's event loop takes SIGINT and SIGTERM and
    shuts the kernel down, which ends the run with a DeadKernelError; this
    subclass records the signal so that the run reports an interruption instead.
    """
    import asyncio
    from contextlib import asynccontextmanager

    from nbclient import NotebookClient

    class Client(NotebookClient):
        received_signal = None

        @asynccontextmanager
        async def async_setup_kernel(self, **kwargs):
            loop = asyncio.get_event_loop()
            add = loop.add_signal_handler

            def add_recording(signum, callback, *args):
                def record(*a):
                    self.received_signal = signum
                    return callback(*a)

                return add(signum, record, *args)

            loop.add_signal_handler = add_recording
            try:
                async with super().async_setup_kernel(**kwargs):
                    yield
            finally:
                del loop.add_signal_handler

    return Client


def _signal_handlers():
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}


def _restore(handlers):
    for signum, handler in handlers.items():
        if handler is not None:
            signal.signal(signum, handler)


def _kill(pid):
    """Make sure the kernel this run started is gone (SIGKILL to its process id)."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        return
    for _ in range(50):  # reap it when it is our child, so no zombie is left
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            return
        time.sleep(0.02)


def _execute(path, fast, timeout):
    """Execute one notebook on a fresh kernel; return it or raise NotebookRunError.

    The kernel is shut down whatever happens: success, a failing cell, a cell
    that runs past ``timeout`` seconds, or a KeyboardInterrupt (Ctrl-C or, from
    the command line, SIGTERM).
    """
    nb = read(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    km = _current_env_kernel_manager()
    state = {"cell": None, "pid": None}

    def on_cell_execute(cell, cell_index):
        state["cell"] = cell_index
        if state["pid"] is None:
            state["pid"] = getattr(getattr(km, "provisioner", None), "pid", None)

    env = dict(os.environ)
    env["WORKSHOP_FAST"] = "1" if fast else "0"
    env["WORKSHOP_STRICT_CHECKS"] = "1"
    env.pop("MPLBACKEND", None)  # let ipykernel pick the inline backend so figures are kept
    client = _client_class()(
        nb,
        timeout=timeout,
        km=km,
        shutdown_kernel="immediate",
        record_timing=False,
        on_cell_execute=on_cell_execute,
        resources={"metadata": {"path": str(path.parent)}},
    )

    def where():
        cell = "?" if state["cell"] is None else state["cell"] + 1
        return f"{path}, cell {cell} (counting all cells from 1)"

    handlers = _signal_handlers()
    try:
        client.execute(env=env)
    except Exception as error:
        if client.received_signal is not None:
            raise RunInterrupted(client.received_signal) from None
        _raise_run_error(error, where, timeout)
    finally:
        _kill(state["pid"])
        _restore(handlers)  # nbclient leaves SIGINT/SIGTERM at their defaults, not at what they were
    if client.received_signal is not None:
        raise RunInterrupted(client.received_signal)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = collapse_progress_output(cell.outputs)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def _raise_run_error(error, where, timeout):
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    try:
        raise error
    except CellTimeoutError:
        raise NotebookRunError(f"{where()} timed out: still running after {timeout} s (--timeout)") from None
    except CellExecutionError as error:
        detail = f"{error.ename}: {error.evalue}" if error.ename else _last_line(error)
        raise NotebookRunError(f"{where()} failed: {_last_line(detail)}") from None
    except Exception as error:  # a dead kernel, a kernel that will not start
        raise NotebookRunError(f"{where()} failed: {type(error).__name__}: {_last_line(error)}") from None


def render_terminal(text):
    """What a terminal shows for ``text``: a carriage return restarts the line, a backspace erases a character.

    Keras's progress bar redraws itself this way; kept raw, one training cell stores
    thousands of intermediate bars.
    """
    lines = []
    for line in text.split("\n"):
        shown = []
        for ch in line:
            if ch == "\x08":
                if shown:
                    shown.pop()
            elif ch == "\r":
                shown = []
            else:
                shown.append(ch)
        lines.append("".join(shown))
    return "\n".join(lines)


def collapse_progress_output(outputs):
    """Merge consecutive stream outputs of the same name and keep only what a terminal would show."""
    merged = []
    for output in outputs:
        if (
            output.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == output.get("name")
        ):
            merged[-1]["text"] += output["text"]
        else:
            merged.append(copy.deepcopy(output))
    for output in merged:
        if output.get("output_type") == "stream" and ("\r" in output["text"] or "\x08" in output["text"]):
            output["text"] = render_terminal(output["text"])
    return merged


def run(names=None, solutions_dir=None, fast=False, timeout=1800, stream=None):
    """Execute solution notebooks in place, top to bottom, each on a fresh kernel.

    The kernel is ``python3`` from the current environment, its working directory
    is the solutions folder, and ``WORKSHOP_FAST`` is ``0`` (``1`` with ``fast``).
    A notebook is written back only when every cell ran without error, so a
    failure leaves the file as it was. Run :func:`build` afterwards.

    Args:
        names: notebooks to run: ``"05"``, ``"05_vae_mnist"`` or a file name;
            None runs them all in order.
        solutions_dir: folder of solution notebooks (default: ``<repo>/solutions``).
        fast: run in fast mode (for a quick smoke test).
        timeout: seconds allowed per cell (> 0); a cell still running then
            ends the run with a NotebookRunError and its kernel is shut down.
        stream: where progress lines go (default: ``sys.stdout``).

    Returns:
        The list of executed paths.

    Raises:
        NotebookRunError: an unknown name, or a cell that failed (naming the
            notebook, the cell and the error's last line).
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"Expected `timeout` to be a number of seconds > 0. Received: timeout={timeout!r}")
    stream = stream or sys.stdout
    solutions, _ = folders(solutions_dir)
    selected = _select(names, solution_files(solutions))
    done = []
    for position, path in enumerate(selected, start=1):
        print(f"[{position}/{len(selected)}] {path.name} ...", end=" ", file=stream, flush=True)
        start = time.perf_counter()
        try:
            nb = _execute(path, fast=fast, timeout=timeout)
        except NotebookRunError:
            print("FAILED", file=stream, flush=True)
            raise
        except KeyboardInterrupt:
            print("stopped", file=stream, flush=True)
            raise
        write(path, nb)
        print(f"ok in {time.perf_counter() - start:.1f} s", file=stream, flush=True)
        done.append(path)
    if done:
        print("Now run `python -m workshop notebooks build` to refresh notebooks/.", file=stream)
    return done
