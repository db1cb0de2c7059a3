"""Instructor-only extra cases, run by :mod:`workshop.instructor.grading` after an exercise passes its public check.

They are stricter than the check cells students see (batches, edge cases, other
shapes) and are never printed in a student notebook, nor sent to a student's
kernel as code: the grader runs them in its own process, on a stand-in whose
calls run the student's function in the kernel (:mod:`workshop.instructor.probes`).
``EXTRA_CHECKS`` maps a checker's name (the nbgrader ``grade_id`` of the check
cell) to a function that takes ``{exercise name: student's function}`` and
returns ``(ok, one-line message)``. An exercise without an entry is reported as
"public checks passed".

Most cases are drawn at random from a seed that the grader sets once per grading
run (:func:`set_seed`): a submission that memorised the public cases' answers
cannot know these inputs. The references are the package's own implementations
(or the check modules' reference functions).
"""

import numpy as np

from workshop import probability

_SEED = [2024]


def set_seed(seed):
    """Seed the random cases of this grading run (the grader calls it once, before the first submission)."""
    _SEED[0] = int(seed)


def _rng(salt):
    return np.random.default_rng([_SEED[0], salt])


def _compare(name, received, expected, rtol=1e-6, atol=1e-9):
    received = np.asarray(received, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if received.shape != expected.shape:
        return False, f"{name}: shape {received.shape}, expected {expected.shape}"
    if not np.allclose(received, expected, rtol=rtol, atol=atol):
        worst = int(np.argmax(np.abs(received - expected)))
        return False, f"{name}: {received.ravel()[worst]:.6g} where {expected.ravel()[worst]:.6g} is expected"
    return True, f"{name}: ok"


def _kl_divergence(namespace):
    fn = namespace["kl_divergence"]
    rng = _rng(1)
    p = rng.dirichlet(np.ones(6), size=(3, 4))
    q = rng.dirichlet(np.ones(6), size=(3, 4))
    p[0, 0, :2] = 0.0  # zero-probability outcomes contribute nothing
    p[0, 0] /= p[0, 0].sum()
    for label, args in (("a (3, 4, 6) batch with zeros in p", (p, q)), ("p = q", (q, q))):
        ok, message = _compare(f"kl_divergence on {label}", fn(*args), probability.kl_divergence(*args))
        if not ok:
            return ok, message
    return True, "kl_divergence: batches and zero probabilities ok"


def _gaussian_kl(namespace):
    fn = namespace["gaussian_kl"]
    mu1 = np.linspace(-3, 3, 7)[:, None]
    log_var1 = np.full((1, 5), -4.0)
    mu2, log_var2 = np.array(0.5), np.linspace(-2, 3, 5)
    return _compare(
        "gaussian_kl with broadcast (7, 5) arrays and small variances",
        fn(mu1, log_var1, mu2, log_var2),
        probability.gaussian_kl(mu1, log_var1, mu2, log_var2),
    )


def _random_cases(name, reference, make, rtol=1e-4, atol=1e-5, salt=0, count=2):
    """Extra cases: ``make(rng)`` draws the arguments, the student's output must match ``reference``'s."""

    def run(namespace):
        fn = namespace[name]
        rng = _rng(1000 + salt)
        for index in range(count):
            args = make(rng)
            expected = np.asarray(reference(*args), dtype=np.float64)
            ok, message = _compare(f"{name} on random case {index + 1} (shape {np.shape(args[0])})", fn(*args), expected, rtol, atol)
            if not ok:
                return ok, message
        return True, f"{name}: {count} random cases ok"

    return run


def _f32(*arrays):
    return tuple(np.asarray(a, dtype="float32") for a in arrays)


def _normal(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype("float32")


def _mixture_args(rng):
    n, k, d = int(rng.integers(3, 9)), int(rng.integers(2, 5)), int(rng.integers(1, 4))
    return _normal(rng, n, d, scale=2.0), _normal(rng, k, d, scale=2.0), _normal(rng, k, d, scale=0.5), _normal(rng, k)


def _gaussian_kl_random(namespace):
    fn = namespace["gaussian_kl"]
    rng = _rng(2)
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    args = [rng.normal(size=shape), rng.uniform(-3, 2, shape), rng.normal(size=shape), rng.uniform(-3, 2, shape)]
    ok, message = _compare("gaussian_kl on random (N, d) arrays", fn(*args), probability.gaussian_kl(*args))
    if not ok:
        return ok, message
    return _gaussian_kl(namespace)


def _reference(module, name):
    """A reference function of a check module, imported when first called (the check modules import Keras)."""

    def call(*args):
        import importlib

        return np.asarray(getattr(importlib.import_module(f"workshop.checks.{module}"), name)(*args), dtype=np.float64)

    return call


def _losses(name):
    def call(*args):
        import keras

        from workshop import losses

        return keras.ops.convert_to_numpy(getattr(losses, name)(*args))

    return call


EXTRA_CHECKS = {
    "check_kl_divergence": _kl_divergence,
    "check_gaussian_kl": _gaussian_kl_random,
    # notebook 05
    "check_kl_to_standard_normal": _random_cases(
        "kl_to_standard_normal", _losses("kl_standard_normal"), lambda rng: (_normal(rng, 6, 5), _normal(rng, 6, 5, scale=1.5)), salt=5
    ),
    "check_bernoulli_nll_from_logits": _random_cases(
        "bernoulli_nll_from_logits",
        _losses("bernoulli_reconstruction_loss"),
        lambda rng: ((rng.random((4, 28, 28, 1)) < 0.3).astype("float32"), _normal(rng, 4, 28, 28, 1, scale=4.0)),
        rtol=1e-4,
        atol=1e-3,
        salt=6,
    ),
    "check_reparameterize": _random_cases(
        "reparameterize",
        lambda m, lv, eps: m + np.exp(0.5 * lv.astype(np.float64)) * eps,
        lambda rng: (_normal(rng, 7, 3), _normal(rng, 7, 3), _normal(rng, 7, 3)),
        salt=7,
    ),
    # notebook 06
    "check_gaussian_nll": _random_cases(
        "gaussian_nll",
        _reference("nb06", "reference_gaussian_nll"),
        lambda rng: (
            rng.random((3, 28, 28, 1)).astype("float32"),
            rng.random((3, 28, 28, 1)).astype("float32"),
            np.float32(rng.uniform(0.05, 1.0)),
        ),
        rtol=1e-4,
        atol=1e-2,
        salt=8,
    ),
    # notebook 07
    "check_one_hot": _random_cases("one_hot", _reference("nb07", "reference_one_hot"), lambda rng: (rng.integers(0, 7, size=9), 7), salt=9),
    # notebook 08
    "check_log_mean_exp": _random_cases(
        "log_mean_exp",
        _reference("nb08", "reference_log_mean_exp"),
        lambda rng: (_normal(rng, 5, 11, scale=30.0),),
        rtol=1e-4,
        atol=1e-3,
        salt=10,
    ),
    "check_kl_warmup_weight": _random_cases(
        "kl_warmup_weight",
        _reference("nb08", "reference_kl_warmup_weight"),
        lambda rng: (int(rng.integers(0, 40)), int(rng.integers(1, 20))),
        salt=11,
        count=6,
    ),
    "check_free_bits_kl": _random_cases(
        "free_bits_kl",
        _reference("nb08", "reference_free_bits_kl"),
        lambda rng: (_normal(rng, 8, 4), _normal(rng, 8, 4), float(rng.uniform(0.0, 1.0))),
        salt=12,
    ),
    # notebook 09
    "check_minibatch_loss": _random_cases(
        "minibatch_loss",
        _reference("nb09", "reference_minibatch_loss"),
        lambda rng: (
            rng.uniform(0.1, 3.0, size=int(rng.integers(2, 40))).astype("float32"),
            np.float32(rng.uniform(1, 1e4)),
            int(rng.integers(100, 60000)),
        ),
        salt=13,
    ),
    # notebook 10
    "check_mixture_log_density": _random_cases(
        "mixture_log_density", _reference("nb10", "reference_mixture_log_density"), _mixture_args, rtol=1e-4, atol=1e-4, salt=14
    ),
    "check_responsibilities": _random_cases(
        "responsibilities", _reference("nb10", "reference_responsibilities"), _mixture_args, rtol=1e-4, atol=1e-5, salt=15
    ),
}
