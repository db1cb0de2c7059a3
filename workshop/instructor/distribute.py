"""Training on several devices or machines with TensorFlow's own ``tf.distribute``.

``python -m workshop train --strategy mirrored`` trains under
``tf.distribute.MirroredStrategy`` (one replica per local GPU, or per logical
CPU device made with ``--cpu-devices N``); ``--strategy multiworker`` under
``tf.distribute.MultiWorkerMirroredStrategy``, one process per machine, each
told the cluster by the ``TF_CONFIG`` environment variable. The model's own
``train_step`` makes the result independent of the number of replicas: each
replica's loss is its share of the global-batch mean, because ``tf.distribute``
sums the replicas' gradients (see ``VAE._batch_share``), and the metrics average
over every image of every replica.

Everything here must run before TensorFlow initialises its devices (before the
first operation): :func:`split_cpu` raises a ``RuntimeError`` saying so otherwise.

A multi-worker run waits for every worker named in ``TF_CONFIG`` to join, but
not forever: ``--worker-timeout SECONDS`` (default 300) bounds the wait, after
which :func:`make_strategy` raises :class:`ClusterTimeout` naming the workers
that never came. TensorFlow waits inside C++ code that holds Python's global
lock, so no Python watchdog thread could run meanwhile; the bound is TensorFlow's
own: the coordination service that ``MultiWorkerMirroredStrategy`` sets up is
configured first (:func:`_bound_the_wait`) with a registration timeout and a
registration barrier, and it then raises ``DeadlineExceededError`` on every
worker, the leader (the chief, else worker 0) included.
"""

import json
import os
import re

STRATEGIES = ("none", "mirrored", "multiworker")
DEFAULT_WORKER_TIMEOUT = 300.0  # seconds; the same as workshop.instructor.config.DEFAULT_WORKER_TIMEOUT


class ClusterTimeout(RuntimeError):
    """A worker of ``TF_CONFIG`` did not join a multi-worker run within the allowed time."""


def split_cpu(count):
    """Split the host CPU into ``count`` logical devices (``/cpu:0`` ... ``/cpu:{count-1}``).

    Lets the mirrored path run, and be tested, on a machine without GPUs: each
    logical device is a replica with its own copy of the variables, sharing the
    same cores. Call it before TensorFlow runs its first operation.

    Returns:
        The names of the logical CPU devices.

    Raises:
        ValueError: ``count`` is not an integer >= 1.
        RuntimeError: TensorFlow has already initialised its devices with another split.
    """
    import tensorflow as tf

    from workshop.validation import check_positive_int

    count = check_positive_int(count, "cpu_devices")
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is None or len(current) != count:
        try:
            tf.config.set_logical_device_configuration(cpu, wanted)
        except RuntimeError:
            have = len(tf.config.list_logical_devices("CPU"))
            if have != count:
                raise RuntimeError(
                    f"Expected to split the CPU into {count} logical devices before TensorFlow starts. Received: TensorFlow "
                    f"already runs with {have}; call split_cpu() (or pass --cpu-devices) before building a model "
                    "(restart the kernel in a notebook)."
                ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def read_tf_config(environ=None):
    """The parsed ``TF_CONFIG`` of a multi-worker run, checked: ``{"cluster": {...}, "task": {"type", "index"}}``.

    Raises:
        ValueError: ``TF_CONFIG`` is missing, not JSON, or does not name this task in its cluster.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    example = '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
    if not text:
        raise ValueError(f"Expected the TF_CONFIG environment variable for --strategy multiworker, such as {example}. Received: none")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        members = cluster[task["type"]]
        index = int(task["index"])
        if not isinstance(members, list) or not 0 <= index < len(members):
            raise KeyError("index")
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"Expected TF_CONFIG to be JSON naming the cluster and this task, such as {example}. Received: {text[:300]}"
        ) from None
    return config


def is_chief(environ=None):
    """True for the process that writes the run folder: the chief, else worker 0, else a single process."""
    environ = os.environ if environ is None else environ
    if not environ.get("TF_CONFIG"):
        return True
    config = read_tf_config(environ)
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


def _task_name(address_of, task):
    """``worker 1 (host:port)`` for a task name such as ``/job:worker/replica:0/task:1``."""
    job = re.search(r"/job:(\w+)", task)
    index = re.search(r"/task:(\d+)", task)
    if not job or not index:
        return task
    key = (job.group(1), int(index.group(1)))
    return f"{key[0]} {key[1]} ({address_of[key]})" if key in address_of else f"{key[0]} {key[1]}"


def _cluster_timeout(error, config, timeout):
    """The :class:`ClusterTimeout` of TensorFlow's ``DeadlineExceededError`` while the cluster formed."""
    address_of = {(job, i): address for job, members in config["cluster"].items() for i, address in enumerate(members)}
    task = config["task"]
    me = _task_name(address_of, f"/job:{task['type']}/task:{int(task['index'])}")
    text = str(error)
    # The leader's barrier error lists the late tasks after "timed out task names:", before gRPC's own details.
    listed = text.split("timed out task names:", 1)[1].split("Additional GRPC", 1)[0] if "timed out task names:" in text else ""
    missing = list(dict.fromkeys(_task_name(address_of, t) for t in re.findall(r"/job:\w+/replica:\d+/task:\d+", listed)))
    missing = [name for name in missing if name != me]
    if missing:
        what = f"{', '.join(missing)} did not join"
    else:
        leader = "/job:chief/task:0" if config["cluster"].get("chief") else "/job:worker/task:0"
        what = f"no answer from {_task_name(address_of, leader)}, which coordinates the cluster"
    return ClusterTimeout(
        f"Expected every worker of TF_CONFIG to join the cluster within {timeout:g} s (--worker-timeout). "
        f"Received: {what}; this is {me}. Start the missing workers (same TF_CONFIG cluster, their own task index) "
        "or allow more time with --worker-timeout SECONDS"
    )


def _bound_the_wait(config, timeout):
    """Configure TensorFlow's coordination service so that forming the cluster gives up after ``timeout`` seconds.

    ``MultiWorkerMirroredStrategy`` configures the service itself only when none is
    configured; this sets up the same one (the chief, else worker 0, leads; the
    chief and worker jobs are coordinated) with ``cluster_register_timeout_in_ms``
    and ``cluster_register_with_barrier`` (without the barrier the leader itself
    would wait forever). Returns False, changing nothing, if this TensorFlow lacks
    the internals used here.
    """
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.eager import context
        from tensorflow.python.training import server_lib
    except ImportError:
        return False
    ctx = context.context()
    if ctx.coordination_service is not None:
        return False  # configured by someone else: leave it
    spec = server_lib.ClusterSpec(config["cluster"])
    jobs = [
        coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job)) for job in ("chief", "worker") if job in spec.jobs
    ]
    ctx.configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs,
        cluster_register_timeout_in_ms=max(1, int(timeout * 1000)),
    )
    service = ctx.coordination_service
    if "cluster_register_with_barrier" in type(service).DESCRIPTOR.fields_by_name:
        service.cluster_register_with_barrier = True
    return True


def make_strategy(name, cpu_devices=None, worker_timeout=None):
    """The ``tf.distribute`` strategy called ``name`` (``"none"``: None, train on the default device).

    Args:
        name: ``"none"``, ``"mirrored"`` or ``"multiworker"``.
        cpu_devices: split the CPU into this many logical devices first (see :func:`split_cpu`).
            ``mirrored`` uses every GPU, or every logical CPU device when there is no GPU.
        worker_timeout: ``multiworker``: seconds to wait for every worker of ``TF_CONFIG`` to
            join (default: :data:`DEFAULT_WORKER_TIMEOUT`).

    Raises:
        ValueError: an unknown name, a bad ``worker_timeout``, or ``multiworker`` without a usable ``TF_CONFIG``.
        ClusterTimeout: (a RuntimeError) a worker did not join within ``worker_timeout`` seconds.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Expected `strategy` to be one of {STRATEGIES}. Received: strategy={name!r}")
    timeout = DEFAULT_WORKER_TIMEOUT if worker_timeout is None else worker_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValueError(f"Expected `worker_timeout` to be a number of seconds > 0. Received: worker_timeout={worker_timeout!r}")
    config = read_tf_config() if name == "multiworker" else None  # a clear error before TensorFlow waits for a cluster
    if cpu_devices is not None:
        split_cpu(cpu_devices)
    if name == "none":
        return None
    import tensorflow as tf

    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    _bound_the_wait(config, timeout)
    communication = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=communication)
    except tf.errors.DeadlineExceededError as error:
        raise _cluster_timeout(error, config, timeout) from None
