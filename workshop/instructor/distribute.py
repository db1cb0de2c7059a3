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
"""

import json
import os

STRATEGIES = ("none", "mirrored", "multiworker")


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


def make_strategy(name, cpu_devices=None):
    """The ``tf.distribute`` strategy called ``name`` (``"none"``: None, train on the default device).

    Args:
        name: ``"none"``, ``"mirrored"`` or ``"multiworker"``.
        cpu_devices: split the CPU into this many logical devices first (see :func:`split_cpu`).
            ``mirrored`` uses every GPU, or every logical CPU device when there is no GPU.

    Raises:
        ValueError: an unknown name, or ``multiworker`` without a usable ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Expected `strategy` to be one of {STRATEGIES}. Received: strategy={name!r}")
    if name == "multiworker":
        read_tf_config()  # a clear error before TensorFlow waits for a cluster that was never described
    if cpu_devices is not None:
        split_cpu(cpu_devices)
    if name == "none":
        return None
    import tensorflow as tf

    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    communication = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=communication)
