"""Time VAE training on full MNIST against the machine's matmul peak and a plain PyTorch loop.

Trains ``VAE(latent_dim, hidden_units=arch)`` with ``model.fit`` on MNIST (set
``MNIST_PATH`` to Keras's ``mnist.npz``) and, in the same process and
alternating epoch by epoch, the same network, loss, optimizer and batch in a
plain PyTorch loop (when PyTorch is installed). Between epochs it times large
float32 matmuls (the machine's matmul peak) and the matmuls of one training
step at their real shapes, so that every number comes from the same
conditions. It prints median seconds per epoch (the first, compiling epoch
left out), images per second, achieved GFLOP/s and its fraction of both peaks,
the Keras/PyTorch time ratio, the cores used (CPU seconds / wall seconds), and
the test -ELBO after training. See benchmarks/README.md for the definitions.

Examples:
    MNIST_PATH=/path/to/mnist.npz python benchmarks/benchmark.py --epochs 5 --arch 400 --torch
    MNIST_PATH=/path/to/mnist.npz python benchmarks/benchmark.py --epochs 5 --arch 512,256 --no-torch
    python benchmarks/benchmark.py --quick
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workshop import performance  # noqa: E402  (imports TensorFlow, runs no op)

QUICK_STEPS = 100  # training steps per epoch in --quick mode
INPUTS = ("default", "keras-adapter", "dataset", "batches")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Median times leave out the first epoch (tracing and XLA compilation). "
        "The target in the issue is the fraction of the LARGE-matmul peak.",
    )
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 5; --quick: 3)")
    parser.add_argument("--arch", default="400", help="hidden units, comma separated: 400 (default) or 512,256")
    parser.add_argument("--latent-dim", type=int, default=20, help="latent dimensions (default 20)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    parser.add_argument(
        "--binarize",
        choices=("random", "threshold", "none"),
        default="random",
        help="MNIST binarization (default random: fixed stochastic binarization, seed 0)",
    )
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads (default: every core)")
    parser.add_argument("--inter-op-threads", type=int, default=0, help="TensorFlow inter-op threads (default 0: TensorFlow's choice)")
    parser.add_argument(
        "--steps-per-execution",
        default="default",
        help="Keras steps_per_execution: an integer, 'epoch' for one call per epoch, or 'default' (VAE.compile's default, 32)",
    )
    parser.add_argument("--no-jit", action="store_true", help="compile with jit_compile=False (default: XLA)")
    parser.add_argument(
        "--input",
        choices=INPUTS,
        default="default",
        help="default: VAE.fit(x_train, shuffle=True) on NumPy arrays, the path students and the CLI take "
        "(workshop.inputs: one tensor, a fresh permutation of all images gathered every epoch); "
        "keras-adapter: the same call with fast_input=False (Keras's own array adapter); "
        "dataset: tf.data cache, shuffle images, batch, prefetch(AUTOTUNE); batches: tf.data batch, cache the batches, "
        "shuffle their order each epoch, prefetch(1), autotune off (batch contents fixed across epochs)",
    )
    parser.add_argument(
        "--numpy-peak-size",
        type=int,
        default=4096,
        help="side of the square NumPy matmul that defines the peak of the target (default 4096)",
    )
    torch_group = parser.add_mutually_exclusive_group()
    torch_group.add_argument(
        "--torch", dest="torch", action="store_true", default=None, help="also time the PyTorch loop (default: when PyTorch is installed)"
    )
    torch_group.add_argument("--no-torch", dest="torch", action="store_false", help="skip the PyTorch loop")
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the square matmul for the peak (default 2048)")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights, noise and shuffling (default 0)")
    parser.add_argument("--quick", action="store_true", help=f"smoke check: {QUICK_STEPS} steps per epoch, 3 epochs, 2,000 test images")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 3 if args.quick else 5
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.inter_op_threads < 0:
        parser.error(f"--inter-op-threads must be >= 0, got {args.inter_op_threads}")
    for name in ("epochs", "latent_dim", "batch_size", "peak_size", "numpy_peak_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    try:
        args.hidden_units = tuple(int(u) for u in args.arch.split(",") if u.strip())
    except ValueError:
        parser.error(f"--arch must be comma-separated integers such as 512,256, got {args.arch!r}")
    if args.steps_per_execution not in ("epoch", "default"):
        try:
            args.steps_per_execution = int(args.steps_per_execution)
        except ValueError:
            parser.error(f"--steps-per-execution must be an integer or 'epoch', got {args.steps_per_execution!r}")
    return args


def cpu_seconds():
    """User + system CPU time of this process, all threads."""
    t = os.times()
    return t.user + t.system


# --------------------------------------------------------------- matmul peak
class MatmulProbe:
    """Times a fixed list of float32 matmuls in one compiled loop and reports GFLOP/s.

    Every repetition multiplies different operands (a ring of ``copies``
    pre-drawn matrices picked by the loop counter), so TensorFlow can neither
    fold the repeats into one product nor hoist them out of the loop.
    """

    def __init__(self, shapes, seconds=0.25, copies=4):
        import tensorflow as tf

        self.tf = tf
        self.flops = sum(2 * m * k * n for m, k, n, _, _ in shapes)
        operands = []
        for m, k, n, transpose_a, transpose_b in shapes:
            a_shape = (copies, k, m) if transpose_a else (copies, m, k)
            b_shape = (copies, n, k) if transpose_b else (copies, k, n)
            operands.append((tf.random.normal(a_shape), tf.random.normal(b_shape), transpose_a, transpose_b))
        self.operands = operands
        self.copies = copies

        @tf.function(jit_compile=False)
        def run(repeats):
            total = tf.constant(0.0)
            for i in tf.range(repeats):
                j = i % copies
                for a, b, ta, tb in operands:
                    c = tf.linalg.matmul(tf.gather(a, j), tf.gather(b, j), transpose_a=ta, transpose_b=tb)
                    total += c[0, 0]
            return total

        self.run = run
        self.run(tf.constant(1)).numpy()  # trace
        start = time.perf_counter()
        self.run(tf.constant(3)).numpy()
        per_repeat = max((time.perf_counter() - start) / 3, 1e-6)
        self.repeats = tf.constant(max(1, int(seconds / per_repeat)))

    def measure(self):
        """One timed run: GFLOP/s."""
        start = time.perf_counter()
        self.run(self.repeats).numpy()
        return self.flops * int(self.repeats) / (time.perf_counter() - start) / 1e9


class NumpyMatmulProbe:
    """Times a float32 NumPy matmul of two ``size`` x ``size`` matrices (BLAS on every core): the machine's peak."""

    def __init__(self, size, repeats=3):
        import numpy as np

        rng = np.random.default_rng(0)
        self.a = rng.random((size, size), dtype=np.float32)
        self.b = rng.random((size, size), dtype=np.float32)
        self.flops = 2 * size**3
        self.repeats = repeats
        self.a @ self.b  # warm up BLAS

    def measure(self):
        """The best of ``repeats`` products: GFLOP/s."""
        best = float("inf")
        for _ in range(self.repeats):
            start = time.perf_counter()
            self.a @ self.b
            best = min(best, time.perf_counter() - start)
        return self.flops / best / 1e9


def spread(values):
    """(max - min) / median: the epoch-to-epoch spread of a list of times."""
    return (max(values) - min(values)) / median(values) if values else float("nan")


def step_matmul_shapes(hidden_units, latent_dim, batch_size):
    """The matmuls of one training step as (m, k, n, transpose_a, transpose_b): forward, weight and input gradients."""
    shapes = []
    for i, (n_in, n_out) in enumerate(performance.dense_layer_sizes(hidden_units, latent_dim)):
        shapes.append((batch_size, n_in, n_out, False, False))  # forward: x @ W
        shapes.append((n_in, batch_size, n_out, True, False))  # weight gradient: x^T @ dy
        if i > 0:
            shapes.append((batch_size, n_out, n_in, False, True))  # input gradient: dy @ W^T
    return shapes


# ------------------------------------------------------------------ PyTorch
def make_torch_loop(hidden_units, latent_dim, batch_size, x_train, seed):
    """Return ``(run_epoch, negative_elbo)``: the same VAE, loss, Adam and batch in plain PyTorch."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)

    def mlp(sizes, last_activation):
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2 or last_activation:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp((784, *hidden_units), last_activation=True)
            width = hidden_units[-1] if hidden_units else 784
            self.z_mean = nn.Linear(width, latent_dim)
            self.z_log_var = nn.Linear(width, latent_dim)
            self.decoder = mlp((latent_dim, *reversed(hidden_units), 784), last_activation=False)

        def loss_terms(self, x):
            h = self.body(x)
            z_mean, z_log_var = self.z_mean(h), self.z_log_var(h).clamp(-20.0, 20.0)
            z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
            logits = self.decoder(z)
            reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
            kl = 0.5 * (z_log_var.exp() + z_mean.square() - 1.0 - z_log_var).sum(dim=1)
            return reconstruction, kl

    model = TorchVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)  # Keras's Adam defaults
    x = torch.from_numpy(x_train.reshape(len(x_train), -1))

    def run_epoch():
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            batch = x[order[start : start + batch_size]]
            reconstruction, kl = model.loss_terms(batch)
            loss = (reconstruction + kl).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return float(loss.detach())

    def negative_elbo(x_test):
        model.eval()
        with torch.no_grad():
            xt = torch.from_numpy(x_test.reshape(len(x_test), -1))
            return float(torch.cat([sum(model.loss_terms(b)) for b in xt.split(1024)]).mean())

    return run_epoch, negative_elbo, torch


# -------------------------------------------------------------------- main
def median(values):
    return statistics.median(values) if values else float("nan")


def main(argv=None):
    args = parse_args(argv)
    threads = performance.configure_cpu(args.threads, args.inter_op_threads or None)  # before any TF op

    import keras
    import numpy as np
    import tensorflow as tf

    from workshop import VAE, load_mnist

    keras.utils.set_random_seed(args.seed)
    load_avg_start = os.getloadavg()
    binarize = None if args.binarize == "none" else args.binarize
    num_train = QUICK_STEPS * args.batch_size if args.quick else None
    (x_train, _), (x_test, _), info = load_mnist(
        binarize=binarize, num_train=num_train, num_test=2000 if args.quick else None, return_info=True
    )
    if info["source"] != "file" and not args.quick:
        print(f"note: MNIST from {info['source']} ({info['path']}); set MNIST_PATH for the full set", file=sys.stderr)
    n_train = len(x_train)
    steps = -(-n_train // args.batch_size)
    spe = {"epoch": steps, "default": None}.get(args.steps_per_execution, args.steps_per_execution)
    flops_per_image = performance.matmul_flops_per_image(args.hidden_units, args.latent_dim)

    # ---- the matmul probes (same thread pools as training)
    s = args.peak_size
    numpy_probe = NumpyMatmulProbe(args.numpy_peak_size)
    large_probe = MatmulProbe([(s, s, s, False, False)])
    shapes_probe = MatmulProbe(step_matmul_shapes(args.hidden_units, args.latent_dim, args.batch_size))
    peaks_numpy, peaks_large, peaks_shapes = [numpy_probe.measure()], [large_probe.measure()], [shapes_probe.measure()]

    # ---- the Keras model
    model = VAE(latent_dim=args.latent_dim, hidden_units=args.hidden_units, seed=args.seed)
    compile_kwargs = {} if spe is None else {"steps_per_execution": spe}
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=not args.no_jit, **compile_kwargs)
    spe = model.steps_per_execution
    if args.input == "dataset":
        train_data = (
            tf.data.Dataset.from_tensor_slices(x_train)
            .cache()
            .shuffle(n_train, seed=args.seed, reshuffle_each_iteration=True)
            .batch(args.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        fit_kwargs = {"shuffle": False}  # the dataset shuffles itself
    elif args.input == "batches":
        options = tf.data.Options()
        options.autotune.enabled = False  # no background tuning threads competing for the 2 cores
        train_data = (
            tf.data.Dataset.from_tensor_slices(x_train)
            .batch(args.batch_size)
            .cache()
            .shuffle(steps, seed=args.seed, reshuffle_each_iteration=True)
            .prefetch(1)
            .with_options(options)
        )
        fit_kwargs = {"shuffle": False}  # the dataset shuffles itself
    else:
        train_data = x_train
        fit_kwargs = {"batch_size": args.batch_size, "shuffle": True, "fast_input": args.input == "default"}

    # ---- the PyTorch loop
    torch_run = None
    if args.torch is not False:
        try:
            torch_run, torch_negative_elbo, torch = make_torch_loop(args.hidden_units, args.latent_dim, args.batch_size, x_train, args.seed)
            torch.set_num_threads(threads["intra_op_threads"])
        except ImportError:
            message = "PyTorch is not installed: skipping the PyTorch loop (pip install torch for the comparison)."
            if args.torch:
                raise SystemExit(message) from None
            print(message)

    records = []

    class Interleave(keras.callbacks.Callback):
        """Times each Keras epoch, then runs a PyTorch epoch and the matmul probes between epochs."""

        def on_epoch_begin(self, epoch, logs=None):
            self.wall, self.cpu = time.perf_counter(), cpu_seconds()

        def on_epoch_end(self, epoch, logs=None):
            wall = time.perf_counter() - self.wall
            record = {"epoch": epoch, "keras_s": wall, "keras_cores": (cpu_seconds() - self.cpu) / wall, "keras_loss": float(logs["loss"])}
            if torch_run is not None:
                start, cpu = time.perf_counter(), cpu_seconds()
                record["torch_loss"] = torch_run()
                record["torch_s"] = time.perf_counter() - start
                record["torch_cores"] = (cpu_seconds() - cpu) / record["torch_s"]
            record["peak_numpy_gflops"] = numpy_probe.measure()
            peaks_numpy.append(record["peak_numpy_gflops"])
            record["peak_large_gflops"] = large_probe.measure()
            record["peak_shapes_gflops"] = shapes_probe.measure()
            peaks_large.append(record["peak_large_gflops"])
            peaks_shapes.append(record["peak_shapes_gflops"])
            records.append(record)
            line = (
                f"epoch {epoch + 1}/{args.epochs}: keras {wall:6.2f} s (loss {record['keras_loss']:.2f}, {record['keras_cores']:.2f} cores)"
            )
            if torch_run is not None:
                line += f" | torch {record['torch_s']:6.2f} s (loss {record['torch_loss']:.2f}, {record['torch_cores']:.2f} cores)"
            line += f" | NumPy peak {record['peak_numpy_gflops']:.0f} GFLOP/s"
            print(line, flush=True)

    fit_start = time.perf_counter()
    model.fit(train_data, epochs=args.epochs, verbose=0, callbacks=[Interleave()], **fit_kwargs)
    fit_total = time.perf_counter() - fit_start
    keras_test = float(-np.mean(model.elbo(x_test, seed=args.seed)))
    torch_test = torch_negative_elbo(x_test) if torch_run is not None else None

    # ---- summary
    timed = records[1:] if len(records) > 1 else records
    keras_s = median([r["keras_s"] for r in timed])
    peak_numpy, peak_large, peak_shapes = median(peaks_numpy), median(peaks_large), median(peaks_shapes)
    achieved = flops_per_image * n_train / keras_s / 1e9
    summary = {
        "config": {
            "hidden_units": list(args.hidden_units),
            "latent_dim": args.latent_dim,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "train_images": n_train,
            "test_images": len(x_test),
            "binarize": args.binarize,
            "jit_compile": not args.no_jit,
            "steps_per_execution": spe,
            "input": args.input,
            **threads,
            "mnist_source": info["source"],
            "quick": args.quick,
        },
        "machine": {
            "platform": platform.platform(),
            "cores": performance.available_cores(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "torch": torch.__version__ if torch_run is not None else None,
            "load_average_start": load_avg_start[0],
            "load_average_end": os.getloadavg()[0],
        },
        "flops_per_image": flops_per_image,
        "keras_s_per_epoch": keras_s,
        "keras_images_per_s": n_train / keras_s,
        "keras_gflops": achieved,
        "keras_cores": median([r["keras_cores"] for r in timed]),
        "keras_epoch_spread": spread([r["keras_s"] for r in timed]),
        "peak_numpy_gflops": peak_numpy,
        "fraction_of_numpy_peak": achieved / peak_numpy,
        "peak_large_gflops": peak_large,
        "peak_shapes_gflops": peak_shapes,
        "fraction_of_large_peak": achieved / peak_large,
        "fraction_of_shapes_peak": achieved / peak_shapes,
        "keras_test_negative_elbo": keras_test,
        "fit_total_s": fit_total,
        "epochs": records,
    }
    if torch_run is not None:
        torch_s = median([r["torch_s"] for r in timed])
        summary.update(
            {
                "torch_s_per_epoch": torch_s,
                "torch_images_per_s": n_train / torch_s,
                "torch_gflops": flops_per_image * n_train / torch_s / 1e9,
                "torch_cores": median([r["torch_cores"] for r in timed]),
                "torch_epoch_spread": spread([r["torch_s"] for r in timed]),
                "keras_over_torch_time": keras_s / torch_s,
                "keras_speed_vs_torch": torch_s / keras_s,
                "keras_over_torch_time_paired": median([r["keras_s"] / r["torch_s"] for r in timed]),
                "torch_test_negative_elbo": torch_test,
            }
        )

    arch = "-".join(str(u) for u in (784, *args.hidden_units, args.latent_dim))
    print()
    print(
        f"VAE {arch}, batch {args.batch_size}, {n_train} training images ({args.binarize} binarization), "
        f"{args.epochs} epochs; medians over epochs 2-{args.epochs}"
        if len(records) > 1
        else ""
    )
    print(
        f"threads: intra-op {threads['intra_op_threads']}, inter-op {threads['inter_op_threads']}; "
        f"jit_compile={not args.no_jit}, steps_per_execution={spe}, input={args.input}; "
        f"load average {load_avg_start[0]:.1f} -> {os.getloadavg()[0]:.1f} on {performance.available_cores()} cores"
    )
    print(f"matmul FLOPs per image (forward + backward): {flops_per_image:,}")
    n = args.numpy_peak_size
    print(f"float32 matmul peak, NumPy {n}x{n}x{n}:    {peak_numpy:8.1f} GFLOP/s  (the target's peak)")
    print(f"float32 matmul peak, TF {s}x{s}x{s}:       {peak_large:8.1f} GFLOP/s")
    print(f"float32 matmul peak, this step's shapes:   {peak_shapes:8.1f} GFLOP/s")
    print(
        f"Keras   : {keras_s:6.2f} s/epoch  {n_train / keras_s:8.0f} images/s  {achieved:6.1f} GFLOP/s  "
        f"{achieved / peak_numpy:5.1%} of NumPy peak  {achieved / peak_large:5.1%} of TF large-matmul peak  "
        f"{achieved / peak_shapes:5.1%} of step-shapes peak  {summary['keras_cores']:.2f} cores  "
        f"epoch spread {summary['keras_epoch_spread']:.1%}"
    )
    if torch_run is not None:
        print(
            f"PyTorch : {torch_s:6.2f} s/epoch  {n_train / torch_s:8.0f} images/s  {summary['torch_gflops']:6.1f} GFLOP/s  "
            f"{summary['torch_gflops'] / peak_numpy:5.1%} of NumPy peak  {summary['torch_gflops'] / peak_large:5.1%} of TF large-matmul peak  "
            f"{summary['torch_gflops'] / peak_shapes:5.1%} of step-shapes peak  {summary['torch_cores']:.2f} cores  "
            f"epoch spread {summary['torch_epoch_spread']:.1%}"
        )
        print(
            f"Keras / PyTorch time per epoch: {summary['keras_over_torch_time']:.3f} "
            f"(median of per-epoch ratios {summary['keras_over_torch_time_paired']:.3f}; below 1 = Keras faster): "
            f"Keras trains at {summary['keras_speed_vs_torch']:.2f}x the PyTorch loop's speed"
        )
    print(
        f"test -ELBO after {args.epochs} epochs: Keras {keras_test:.2f} nats"
        + (f", PyTorch {torch_test:.2f} nats" if torch_run is not None else "")
        + f" ({len(x_test)} test images, one z sample per image)"
    )
    if load_avg_start[0] > performance.available_cores():
        print(
            f"warning: load average {load_avg_start[0]:.1f} > {performance.available_cores()} cores at start: "
            "other processes share the CPU, so times are noisy (PyTorch's OpenMP threads suffer most)"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")
    return summary


if __name__ == "__main__":
    main()
