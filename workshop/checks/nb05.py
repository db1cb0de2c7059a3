"""Checks for notebook 05, "A VAE for MNIST": the loss terms, the sampling step, the training step.

Each ``check_*`` function takes what the student wrote and prints one line:

- :func:`check_kl_to_standard_normal`: ``kl_to_standard_normal(z_mean, z_log_var)``,
  the closed-form KL(q(z | x) || N(0, I)) per image on tensors;
- :func:`check_bernoulli_nll_from_logits`: ``bernoulli_nll_from_logits(x, logits)``,
  -log p(x | z) per image in its numerically stable form (tested at logits of +-100);
- :func:`check_reparameterize`: ``reparameterize(z_mean, z_log_var, eps)``;
- :func:`check_train_step`: a ``StudentVAE(workshop.VAE)`` subclass whose
  ``train_step`` computes the negative ELBO under a ``tf.GradientTape``, applies the
  gradients and updates the metrics. The check takes ONE eager step on a fixed batch
  from the same initial weights as the package's ``VAE`` and compares the returned
  losses, the metric trackers and the weight updates; then it trains the student's
  model for two batches with the real, compiled ``fit`` (``float(...)`` of a tensor
  or NumPy calls fail there), with the package's own ``VAE.train_step`` disabled so
  that ``return super().train_step(data)`` cannot pass for an answer.

The three loss-term checks also run the student's function once inside a
``tf.function`` on symbolic tensors of unknown batch size, as ``fit`` does.

The references are the package's own implementations (:mod:`workshop.losses`,
:class:`workshop.layers.Sampling`, :class:`workshop.models.VAE`).
"""

import contextlib
import functools
import inspect

import numpy as np

from workshop.checks._core import _to_numpy, check_custom, check_function, numpy_noise_watched, report

_RNG_SEED = 5


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _ops():
    from keras import ops  # imported lazily: `workshop.checks` must not start TensorFlow

    return ops


def _tensor(array):
    return _ops().convert_to_tensor(np.asarray(array, dtype="float32"))


def _called_as_written(name, student_fn, names):
    """``(fn, problem)``: the student's function called by its parameter names when it uses ours, else by position.

    Called by name, ``def f(logits, x)`` gets each argument right; called by
    position, renamed parameters (``def f(mu, logvar)``) work too. ``problem``
    is a one-line explanation when the function cannot take ``len(names)``
    arguments at all (then ``fn`` is None).
    """
    if not callable(student_fn):
        return student_fn, None
    try:
        signature = inspect.signature(student_fn)
    except (TypeError, ValueError):
        return student_fn, None
    by_name = all(n in signature.parameters for n in names)
    try:
        signature.bind(*names)
    except TypeError:
        if not by_name:
            takes = ", ".join(signature.parameters)
            return None, f"{name} should take {len(names)} arguments, ({', '.join(names)}); yours takes ({takes})"

    @functools.wraps(student_fn)
    def call(*args):
        if by_name:
            return student_fn(**dict(zip(names, args)))
        return student_fn(*args)

    return call, None


def _check_loss_term(name, student_fn, names, verbose, strict, **kwargs):
    fn, problem = _called_as_written(name, student_fn, names)
    if problem:
        return check_custom(name, lambda: (False, problem), verbose=verbose, strict=strict)
    return check_function(name, fn, verbose=verbose, strict=strict, symbolic=True, **kwargs)


def _finite_aware_compare(rtol, atol):
    """Compare arrays whose non-finite entries must sit in the same places; finite ones must be close."""

    def compare(received, expected):
        exp = np.asarray(_to_numpy(expected), dtype="float64")
        rec = _to_numpy(received)
        if rec is None:
            return False, "received None: did you forget the `return` statement?"
        try:
            rec = np.asarray(rec, dtype="float64")
        except (TypeError, ValueError):
            return False, f"expected an array of numbers, received a {type(received).__name__}"
        if rec.shape != exp.shape:
            return False, (
                f"shape mismatch: expected shape {exp.shape}, received shape {rec.shape}"
                " (one number per image: sum over every axis but the first)"
            )
        finite_exp, finite_rec = np.isfinite(exp), np.isfinite(rec)
        if not np.array_equal(finite_exp, finite_rec):
            bad = int(np.sum(finite_exp & ~finite_rec))
            if bad:
                return False, f"{bad} of {exp.size} values are inf or nan where the answer is finite"
            return False, "some values are finite where they should not be"
        if not np.array_equal(np.isnan(exp), np.isnan(rec)):  # inf (an overflow) and nan (0 * inf, inf - inf) tell forms apart
            return False, "some values are nan where they should be inf, or the other way round"
        ok = np.allclose(rec[finite_exp], exp[finite_exp], rtol=rtol, atol=atol)
        return bool(ok), None

    return compare


# --------------------------------------------------------------------------- #
# Exercise 1: the KL term
# --------------------------------------------------------------------------- #
def _kl_reference(z_mean, z_log_var):
    from workshop import losses

    return losses.kl_standard_normal(z_mean, z_log_var)


def _kl_cases():
    rng = np.random.default_rng(_RNG_SEED)
    return [
        (_tensor(np.zeros((2, 3))), _tensor(np.zeros((2, 3)))),  # q = prior: KL = 0
        (_tensor([[0.5, -1.0, 2.0]]), _tensor([[0.0, 0.0, 0.0]])),  # unit variances: KL = |mu|^2 / 2
        (_tensor(rng.normal(size=(4, 3))), _tensor(rng.normal(size=(4, 3)))),
        (_tensor(rng.normal(size=(5, 20))), _tensor(rng.uniform(-6, 2, size=(5, 20)))),
    ]


def _kl_terms(z_mean, z_log_var):
    ops = _ops()
    return ops.exp(z_log_var), ops.square(z_mean), z_log_var


KL_MISTAKES = [
    (
        "looks like you treated z_log_var as log(sigma): it is log(sigma^2), so the variance is exp(z_log_var), not exp(2 * z_log_var).",
        lambda z_mean, z_log_var: 0.5 * _ops().sum(_ops().exp(2.0 * z_log_var) + _ops().square(z_mean) - 1.0 - 2.0 * z_log_var, axis=-1),
    ),
    (
        "you averaged over the latent dimensions: the KL of independent dimensions is their SUM (use ops.sum(..., axis=-1)).",
        lambda z_mean, z_log_var: 0.5 * _ops().mean(_ops().exp(z_log_var) + _ops().square(z_mean) - 1.0 - z_log_var, axis=-1),
    ),
    (
        "the factor 1/2 in front of the sum is missing.",
        lambda z_mean, z_log_var: _ops().sum(_ops().exp(z_log_var) + _ops().square(z_mean) - 1.0 - z_log_var, axis=-1),
    ),
    (
        "the -1 inside the bracket is missing (it makes the KL zero when q is the prior).",
        lambda z_mean, z_log_var: 0.5 * _ops().sum(_ops().exp(z_log_var) + _ops().square(z_mean) - z_log_var, axis=-1),
    ),
    (
        "the sign of the log-variance term is flipped: it is -log(sigma^2), because the KL is smallest at sigma^2 = 1.",
        lambda z_mean, z_log_var: 0.5 * _ops().sum(_ops().exp(z_log_var) + _ops().square(z_mean) - 1.0 + z_log_var, axis=-1),
    ),
]


def check_kl_to_standard_normal(student_fn, verbose=True, strict=None):
    """Check ``kl_to_standard_normal(z_mean, z_log_var)``: one KL per image, summed over latent dims.

    Args:
        student_fn: the student's function, taking two tensors of shape (N, d) and
            returning a tensor of shape (N,).
        verbose, strict: as in :func:`workshop.checks.check_function`.

    Returns:
        A :class:`workshop.checks.CheckResult`.
    """
    return _check_loss_term(
        "kl_to_standard_normal",
        student_fn,
        ("z_mean", "z_log_var"),
        verbose,
        strict,
        reference_fn=_kl_reference,
        cases=_kl_cases(),
        mistakes=KL_MISTAKES,
        rtol=1e-4,
        atol=1e-5,
    )


# --------------------------------------------------------------------------- #
# Exercise 2: the Bernoulli reconstruction term
# --------------------------------------------------------------------------- #
def _flat(t):
    ops = _ops()
    t = ops.cast(ops.convert_to_tensor(t), "float32")
    return ops.reshape(t, (ops.shape(t)[0], -1))


def _nll_reference(x, logits):
    from workshop import losses

    return losses.bernoulli_reconstruction_loss(_ops().convert_to_tensor(x), _ops().convert_to_tensor(logits))


def _nll_naive(x, logits, eps=0.0, axis_op="sum", as_probabilities=False, clip=False):
    ops = _ops()
    x, logits = _flat(x), _flat(logits)
    p = logits if as_probabilities else ops.sigmoid(logits)
    if clip:
        p = ops.clip(p, 1e-7, 1.0 - 1e-7)
    per_pixel = -(x * ops.log(p + eps) + (1.0 - x) * ops.log(1.0 - p + eps))
    return getattr(ops, axis_op)(per_pixel, axis=-1)


def _nll_stable(x, logits, sign=1.0, axis_op="sum"):
    ops = _ops()
    x, logits = _flat(x), _flat(logits)
    per_pixel = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    return sign * getattr(ops, axis_op)(per_pixel, axis=-1)


def _nll_cases():
    rng = np.random.default_rng(_RNG_SEED)
    extreme_logits = np.array([[100.0, -100.0, 100.0, -100.0, 0.0, 30.0]])
    extreme_x = np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0]])
    return [
        (_tensor(rng.integers(0, 2, size=(3, 5))), _tensor(rng.normal(size=(3, 5)))),
        (_tensor(rng.integers(0, 2, size=(4, 28, 28, 1))), _tensor(3.0 * rng.normal(size=(4, 28, 28, 1)))),
        (_tensor(rng.uniform(size=(2, 7))), _tensor(2.0 * rng.normal(size=(2, 7)))),  # grey levels are fine too
        (_tensor(np.concatenate([extreme_x, 1.0 - extreme_x])), _tensor(np.concatenate([extreme_logits, extreme_logits]))),
    ]


def _nll_stable_for_positive_logits(x, logits):
    """The form the prose derives, (1 - x) * l + log(1 + exp(-l)): right algebra, but exp(-l) overflows for l << 0."""
    ops = _ops()
    x, logits = _flat(x), _flat(logits)
    return ops.sum((1.0 - x) * logits + ops.log1p(ops.exp(-logits)), axis=-1)


_STABLE_ADVICE = "rewrite it so that exp only ever sees -|l| (the max(l, 0) trick), or use ops.softplus"

NLL_MISTAKES = [
    (
        "your algebra is right, (1 - x) * l + log(1 + exp(-l)), but it is stable only for l >= 0: exp(-l) "
        f"overflows to inf for very negative logits (l = -100). To be stable for both signs, {_STABLE_ADVICE}.",
        _nll_stable_for_positive_logits,
    ),
    (
        "you got inf or nan at large logits: log(sigmoid(l)) and log(1 - sigmoid(l)) overflow in float32 "
        f"once sigmoid rounds to 0 or 1. Work from the logits directly: {_STABLE_ADVICE}.",
        lambda x, logits: _nll_naive(x, logits),
    ),
    (
        "a small epsilon inside the logs keeps the answer finite but wrong at large logits (it caps "
        f"the loss of a confidently wrong pixel at about 16 nats). Work from the logits directly: {_STABLE_ADVICE}.",
        lambda x, logits: _nll_naive(x, logits, eps=1e-7),
    ),
    (
        "the decoder returns logits, not probabilities: apply the sigmoid (inside the stable "
        "formula), do not use the logits as pixel probabilities.",
        lambda x, logits: _nll_naive(x, logits, as_probabilities=True),
    ),
    (
        "the decoder returns logits, not probabilities (clipping them to [1e-7, 1 - 1e-7] as "
        "keras.losses.binary_crossentropy does without from_logits=True hides the problem).",
        lambda x, logits: _nll_naive(x, logits, as_probabilities=True, clip=True),
    ),
    (
        "you averaged over the pixels: -log p(x | z) of independent pixels is the SUM of the "
        "per-pixel terms (a mean shrinks it 784-fold against the KL).",
        lambda x, logits: _nll_stable(x, logits, axis_op="mean"),
    ),
    (
        "the sign is flipped: you returned log p(x | z); the loss is -log p(x | z), which is >= 0.",
        lambda x, logits: _nll_stable(x, logits, sign=-1.0),
    ),
]


def check_bernoulli_nll_from_logits(student_fn, verbose=True, strict=None):
    """Check ``bernoulli_nll_from_logits(x, logits)``: -log p(x | z) per image, stable from logits.

    The cases include logits of +-100, where the naive ``log(sigmoid(l))`` form
    gives inf or nan in float32.

    Args:
        student_fn: the student's function, taking targets and logits of shape
            (N, ...) and returning a tensor of shape (N,).
        verbose, strict: as in :func:`workshop.checks.check_function`.

    Returns:
        A :class:`workshop.checks.CheckResult`.
    """
    return _check_loss_term(
        "bernoulli_nll_from_logits",
        student_fn,
        ("x", "logits"),
        verbose,
        strict,
        reference_fn=_nll_reference,
        cases=_nll_cases(),
        mistakes=NLL_MISTAKES,
        compare=_finite_aware_compare(rtol=1e-4, atol=1e-4),
    )


# --------------------------------------------------------------------------- #
# Exercise 3: reparameterisation
# --------------------------------------------------------------------------- #
def _reparameterize_reference(z_mean, z_log_var, eps):
    from workshop.losses import clip_log_var

    ops = _ops()
    return z_mean + ops.exp(0.5 * clip_log_var(z_log_var)) * eps


def _reparameterize_cases():
    rng = np.random.default_rng(_RNG_SEED)
    return [
        (_tensor([[1.0, -2.0]]), _tensor([[0.0, 0.0]]), _tensor([[0.5, 0.5]])),
        (_tensor(rng.normal(size=(4, 3))), _tensor(rng.uniform(-3, 2, size=(4, 3))), _tensor(rng.normal(size=(4, 3)))),
    ]


REPARAMETERIZE_MISTAKES = [
    (
        "exp(z_log_var) is the variance sigma^2; the noise is scaled by the standard deviation sigma = exp(z_log_var / 2).",
        lambda z_mean, z_log_var, eps: z_mean + _ops().exp(z_log_var) * eps,
    ),
    (
        "the mean is missing: z = z_mean + sigma * eps.",
        lambda z_mean, z_log_var, eps: _ops().exp(0.5 * z_log_var) * eps,
    ),
    (
        "z_log_var is a log-variance, not a standard deviation: exponentiate it, sigma = exp(z_log_var / 2).",
        lambda z_mean, z_log_var, eps: z_mean + z_log_var * eps,
    ),
    (
        "the noise eps is missing: z = z_mean + sigma * eps.",
        lambda z_mean, z_log_var, eps: z_mean + _ops().exp(0.5 * z_log_var),
    ),
]


def check_reparameterize(student_fn, verbose=True, strict=None):
    """Check ``reparameterize(z_mean, z_log_var, eps)`` = z_mean + exp(z_log_var / 2) * eps.

    Args:
        student_fn: the student's function (three tensors of shape (N, d) in, one out).
        verbose, strict: as in :func:`workshop.checks.check_function`.

    Returns:
        A :class:`workshop.checks.CheckResult`.
    """
    return _check_loss_term(
        "reparameterize",
        student_fn,
        ("z_mean", "z_log_var", "eps"),
        verbose,
        strict,
        reference_fn=_reparameterize_reference,
        cases=_reparameterize_cases(),
        mistakes=REPARAMETERIZE_MISTAKES,
        rtol=1e-5,
        atol=1e-5,
    )


# --------------------------------------------------------------------------- #
# Exercise 4 (+5): the training step
# --------------------------------------------------------------------------- #
METRIC_NAMES = ("loss", "reconstruction_loss", "kl_loss")
_STEP_LEARNING_RATE = 1e-3
_STEP_ARGS = {"latent_dim": 3, "hidden_units": (32,)}


_default_rng = np.random.default_rng  # the check's own draws, untouched by numpy_noise_watched


@contextlib.contextmanager
def fixed_noise(seed=_RNG_SEED, seeds=None):
    """Make ``keras.random.normal`` and ``workshop.rng.normal`` return the same draws for the same shape while active.

    Every call with a given shape returns the same standard normal numbers, so
    two models that draw their reparameterisation noise through
    ``keras.random.normal`` (a student's step) or the package's ``Sampling``
    layer (``workshop.rng.normal``) see the same eps, whichever seed generator they use.
    When ``seeds`` is a list, the ``seed`` argument of every ``keras.random.normal``
    call is appended to it.
    """
    import keras

    from workshop import rng

    originals = keras.random.normal, rng.normal

    def draws(shape, dtype, mean=0.0, stddev=1.0):
        shape = tuple(int(s) for s in shape)
        values = _default_rng(seed).standard_normal(shape)
        return keras.ops.convert_to_tensor(mean + stddev * values, dtype=dtype or "float32")

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        if seeds is not None:
            seeds.append(seed)
        return draws(shape, dtype, mean, stddev)

    def package_normal(shape, generator, dtype="float32"):
        return draws(shape, dtype)

    keras.random.normal, rng.normal = normal, package_normal
    try:
        yield
    finally:
        keras.random.normal, rng.normal = originals


def _noise_issue(seeds, numpy_calls, model):
    """'numpy' when the step drew its noise with NumPy; 'unseeded' when keras.random.normal got no seed generator of the model's."""
    import keras

    if numpy_calls:
        return "numpy"
    owned = {
        id(value)
        for layer in model._flatten_layers(include_self=True)
        for value in vars(layer).values()
        if isinstance(value, keras.random.SeedGenerator)
    }
    if any(id(seed) not in owned for seed in seeds):  # None, an integer, or a generator made afresh in the step
        return "unseeded"
    return None


def _check_batch(n=16):
    """A fixed batch of binarized digits from the shipped sample, shape (n, 28, 28, 1)."""
    from workshop.data import SAMPLE_PATH, read_mnist_npz

    (x_train, _), _ = read_mnist_npz(SAMPLE_PATH)
    grey = x_train[:n].astype("float32")[..., None] / 255.0
    return (np.random.default_rng(_RNG_SEED).random(grey.shape) < grey).astype("float32")


_INITIAL_WEIGHTS = {}


def _initial_weights(model):
    """Weights every model in the check starts from: fixed NumPy draws (no global seed is touched).

    The encoder starts with posterior means near 1 and log-variances near -2,
    so that the KL term (about 1.5 nats per latent dimension) visibly moves the weights.
    """
    layout = tuple((w.path, tuple(w.shape)) for w in model.weights)
    if layout not in _INITIAL_WEIGHTS:
        rng = np.random.default_rng(_RNG_SEED)
        weights = []
        for path, shape in layout:
            if len(shape) == 2:  # a kernel
                weights.append(rng.normal(0.0, 1.0 / np.sqrt(shape[0]), size=shape))
            else:
                offset = {"z_mean/bias": 1.0, "z_log_var/bias": -2.0}.get(path, 0.0)
                weights.append(offset + rng.normal(0.0, 0.05, size=shape))
        _INITIAL_WEIGHTS[layout] = [w.astype("float32") for w in weights]
    return _INITIAL_WEIGHTS[layout]


def _one_step(model_class, beta, step=None):
    """Build ``model_class`` with the check's initial weights, take one SGD step, report what changed.

    Returns a dict with the step's returned ``metrics``, the ``trackers``'
    results afterwards and the weight ``updates`` (new minus old), as NumPy.
    """
    import keras

    model = model_class(beta=beta, **_STEP_ARGS)
    initial = _initial_weights(model)
    model.set_weights(initial)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=_STEP_LEARNING_RATE), jit_compile=False)
    x = keras.ops.convert_to_tensor(_check_batch())
    seeds, numpy_calls = [], []
    with fixed_noise(seeds=seeds), numpy_noise_watched(numpy_calls):
        try:
            returned = (step or model_class.train_step)(model, x)
        except ValueError as error:
            if "No gradients provided" not in str(error):
                raise
            # tape.gradient gave None for every weight: the loss was not computed under the tape.
            returned = None
    if isinstance(returned, dict):
        returned = {k: float(np.asarray(_to_numpy(v))) if _is_number(v) else v for k, v in returned.items()}
    updates = [np.asarray(new) - old for new, old in zip(model.get_weights(), initial)]
    trackers = {m.name: float(np.asarray(_to_numpy(m.result()))) for m in model.metrics}
    paths = [w.path for w in model.weights]
    noise = _noise_issue(seeds, numpy_calls, model)
    return {"metrics": returned, "trackers": trackers, "updates": updates, "paths": paths, "noise": noise}


def _is_number(value):
    try:
        return np.asarray(_to_numpy(value)).size == 1
    except Exception:
        return False


def _largest_relative_difference(received, expected):
    """max over weight tensors of max|received - expected| / max|expected| (each tensor on its own scale)."""
    overall = max(float(np.max(np.abs(e))) for e in expected) or 1.0
    worst = 0.0
    for r, e in zip(received, expected):
        scale = max(float(np.max(np.abs(e))), 1e-3 * overall)
        worst = max(worst, float(np.max(np.abs(r - e))) / scale)
    return worst


def _compare_steps(received, expected):
    """Compare what one training step did; only the parts present in ``expected`` count."""
    if "noise" in expected and "updates" not in expected:  # a typical mistake in how the noise is drawn
        return received.get("noise") == expected["noise"], None
    if received.get("noise"):
        return False, f"the reparameterisation noise is drawn wrongly ({received['noise']})"
    if "updates" in expected:
        updates = received["updates"]
        if len(updates) != len(expected["updates"]) or any(r.shape != e.shape for r, e in zip(updates, expected["updates"])):
            return False, "the model's weights do not have the shapes of the package's VAE"
        difference = _largest_relative_difference(updates, expected["updates"])
        if difference > 1e-3 and "metrics" in expected:
            ok, reason = _compare_metrics(received, expected)
            if not ok:
                return ok, reason
        if difference > 1e-3:
            if all(np.all(u == 0) for u in updates):
                return False, "the weights did not change: no gradient step was applied"
            return False, "after one step, " + _describe_updates(updates, expected["updates"], received.get("paths"))
    return _compare_metrics(received, expected)


def _describe_updates(received, expected, paths=None):
    """Which weight's update differs most from the reference's, and how (size ratio, angle)."""
    worst, where = -1.0, 0
    for i, (r, e) in enumerate(zip(received, expected)):
        scale = max(float(np.linalg.norm(e)), 1e-12)
        gap = float(np.linalg.norm(r - e)) / scale
        if gap > worst:
            worst, where = gap, i
    r, e = received[where].ravel().astype("float64"), expected[where].ravel().astype("float64")
    size = float(np.linalg.norm(r)) / max(float(np.linalg.norm(e)), 1e-30)
    cosine = float(r @ e) / max(float(np.linalg.norm(r) * np.linalg.norm(e)), 1e-30)
    name = paths[where] if paths else f"weight tensor {where}"
    total = np.sqrt(sum(float(np.sum(u.astype("float64") ** 2)) for u in received))
    total_ref = np.sqrt(sum(float(np.sum(u.astype("float64") ** 2)) for u in expected))
    return (
        f"the weight updates differ from the reference's: overall the update is {total / max(total_ref, 1e-30):.3g} x "
        f"the reference's in size; it differs most for {name}, whose update is {size:.3g} x the reference's in size "
        f"and points in a direction with cosine {cosine:.3f} to it (1 = same direction)"
    )


def _compare_metrics(received, expected):
    if "metrics" in expected:
        returned = received["metrics"]
        if not isinstance(returned, dict) or set(returned) != set(expected["metrics"]):
            keys = sorted(returned) if isinstance(returned, dict) else type(returned).__name__
            return False, (
                f"train_step should return a dict with keys {list(METRIC_NAMES)} "
                f"({{m.name: m.result() for m in self.metrics}}). Received: {keys}"
            )
        for name, value in expected["metrics"].items():
            got = returned[name]
            if not _is_number(got) or not np.isclose(float(got), value, rtol=1e-4, atol=1e-3):
                if not _is_number(got):
                    return False, f"the returned {name} is {_type_text(got)}, expected one number (a scalar tensor)"
                got = float(got)
                how = f"{got / value:.4g} x the reference's" if value != 0 else f"{got - value:+.4g}"
                return False, (
                    f"the returned {name} is {got:.4f}, the reference's is {value:.4f} ({'higher' if got > value else 'lower'}: {how})"
                )
    if "trackers" in expected:
        for name, value in expected["trackers"].items():
            got = received["trackers"].get(name)
            if got is None or not np.isclose(got, value, rtol=1e-4, atol=1e-3):
                shown = "nothing" if got is None else f"{got:.4f}"
                return False, (f"the metric tracker '{name}' holds {shown} after the step, the reference's holds {value:.4f}")
    return True, None


def _type_text(value):
    array = _to_numpy(value)
    if isinstance(array, np.ndarray):
        return f"an array of shape {array.shape}"
    return f"a {type(value).__name__}"


_STEP_CACHE = {}  # the reference and its variants are deterministic: compute each once per process


def _reference_step(beta):
    """One step of the package's own ``VAE.train_step``."""
    from workshop.models import VAE

    key = ("reference", float(beta))
    if key not in _STEP_CACHE:
        _STEP_CACHE[key] = _one_step(VAE, beta)
    return _STEP_CACHE[key]


def _variant_step(beta, reconstruction="sum", kl_weight="beta", sign=1.0, apply=True, track=True, kl_reduce="mean", encoder_outside=False):
    """The reference step (the package's loss) with at most one deliberate change, for the typical mistakes."""
    key = (float(beta), reconstruction, kl_weight, sign, apply, track, kl_reduce, encoder_outside)
    if key not in _STEP_CACHE:
        _STEP_CACHE[key] = _make_variant_step(*key)
    return _STEP_CACHE[key]


def _make_variant_step(beta, reconstruction, kl_weight, sign, apply, track, kl_reduce, encoder_outside):
    import tensorflow as tf
    from keras import ops

    from workshop import losses
    from workshop.models import VAE

    def step(model, x):
        if encoder_outside:  # the tape does not see the encoder: its weights get no gradient
            z_mean, z_log_var = model.encoder(x, training=True)
        with tf.GradientTape() as tape:
            if not encoder_outside:
                z_mean, z_log_var = model.encoder(x, training=True)
            z = model.sampling([z_mean, z_log_var])
            logits = model.decoder(z, training=True)
            per_image = losses.bernoulli_reconstruction_loss(x, logits)
            if reconstruction == "mean":
                per_image = per_image / 784.0
            batch_reduce = ops.sum if reconstruction == "batch_sum" else ops.mean
            reconstruction_loss = batch_reduce(per_image)
            kl_loss = getattr(ops, kl_reduce)(losses.kl_standard_normal(z_mean, z_log_var))
            weight = {"beta": model.beta, "one": 1.0, "zero": 0.0}[kl_weight]
            # "detached": the reconstruction term is added as a constant, as np.mean(...) of an eager tensor leaves it
            differentiated = ops.stop_gradient(reconstruction_loss) if reconstruction == "detached" else reconstruction_loss
            loss = differentiated + weight * kl_loss
            objective = sign * loss
        if apply:
            grads = tape.gradient(objective, model.trainable_weights)
            model.optimizer.apply(grads, model.trainable_weights)
        if track:
            return model._update_metrics(reconstruction_loss, kl_loss)
        return {"loss": loss, "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}

    return _one_step(VAE, beta, step=step)


def _not_one(beta):
    # With beta = 1 a fixed weight of 1 is right: this mistake can only be told apart when beta != 1.
    if beta == 1.0:
        raise ValueError("indistinguishable at beta = 1")
    return beta


def _only(result, *keys):
    return {k: result[k] for k in keys}


_BATCH_SUM_HINT = (
    "you summed the loss over the batch: average the per-image losses over the batch (ops.mean), "
    "otherwise the step grows with the batch size (here 16x) and the learning rate no longer means the same."
)

TRAIN_STEP_MISTAKES = [
    (
        "the noise eps comes from NumPy (np.random): inside the compiled `fit` it is drawn once when traced and then "
        "frozen, the same eps at every step; draw it with keras.random.normal(..., seed=self.sampling.seed_generator).",
        lambda beta: {"noise": "numpy"},
    ),
    (
        "keras.random.normal is called without the layer's seed generator: pass seed=self.sampling.seed_generator, "
        "so that each step draws fresh noise and a run is reproducible from the layer's seed.",
        lambda beta: {"noise": "unseeded"},
    ),
    (
        "the encoder's weights get no gradient (their update is 0): the tape records only what runs under it, so "
        "call self.encoder(x) INSIDE `with tf.GradientTape() as tape:`, with the rest of the forward pass.",
        lambda beta: _only(_variant_step(beta, encoder_outside=True), "updates"),
    ),
    (_BATCH_SUM_HINT, lambda beta: _only(_variant_step(beta, reconstruction="batch_sum"), "updates")),
    (_BATCH_SUM_HINT, lambda beta: _only(_variant_step(beta, reconstruction="batch_sum", kl_reduce="sum"), "updates")),
    (
        "the weights did not change: compute the loss INSIDE `with tf.GradientTape() as tape:`, then "
        "grads = tape.gradient(loss, self.trainable_weights) and self.optimizer.apply(grads, self.trainable_weights).",
        lambda beta: _only(_variant_step(beta, apply=False), "updates"),
    ),
    (
        "the KL term is missing from the loss you differentiate: loss = reconstruction_loss + self.beta * kl_loss.",
        lambda beta: _only(_variant_step(beta, kl_weight="zero"), "updates"),
    ),
    (
        "the reconstruction term does not reach the gradients (only the KL moved the weights): compute it with "
        "keras.ops inside `with tf.GradientTape()`; a NumPy call such as np.mean turns it into a constant.",
        lambda beta: _only(_variant_step(beta, reconstruction="detached"), "updates"),
    ),
    (
        "the KL weight should be self.beta (this model has beta != 1), not a fixed 1.",
        lambda beta: _only(_variant_step(_not_one(beta), kl_weight="one"), "updates"),
    ),
    (
        "the reconstruction loss is averaged over pixels: sum it over the 784 pixels of each image "
        "and average over the batch only (a pixel mean lets the KL win and the posterior collapses).",
        lambda beta: _only(_variant_step(beta, reconstruction="mean"), "updates"),
    ),
    (
        "the step went uphill: minimise the NEGATIVE ELBO, reconstruction_loss + self.beta * kl_loss (both >= 0), not the ELBO.",
        lambda beta: _only(_variant_step(beta, sign=-1.0), "updates"),
    ),
    (
        "the gradient step is right, but the metric trackers were not updated: call "
        "self.loss_tracker.update_state(loss) (and the two others) before returning "
        "{m.name: m.result() for m in self.metrics}.",
        lambda beta: _only(_variant_step(beta, track=False), "trackers"),
    ),
]


class DelegatedStep(Exception):
    """Raised when the student's train_step hands the work to the package's own VAE.train_step."""


@contextlib.contextmanager
def _package_step_forbidden():
    """While active, ``workshop.VAE.train_step`` raises: ``super().train_step(data)`` cannot pass for an answer."""
    from workshop.models import VAE

    original = VAE.train_step

    def forbidden(self, data):
        raise DelegatedStep(
            "`super().train_step(data)` runs the package's finished step (workshop.VAE.train_step), not yours: "
            "compute the loss under a tf.GradientTape, apply the gradients and update the trackers in your own train_step"
        )

    VAE.train_step = forbidden
    try:
        yield
    finally:
        VAE.train_step = original


class FitFailed(Exception):
    """The student's train_step passed one eager step but failed inside the real, compiled ``fit``."""


def _fit_run(student_class, steps=2, batch_size=8):
    """Train a fresh ``student_class`` for ``steps`` batches with the real ``fit`` (a compiled tf.function).

    ``train_step`` then runs on symbolic tensors, as it does for the student
    later in the notebook: ``float(...)`` of a tensor, NumPy calls or
    ``.numpy()`` fail here even though one eager step works.
    Raises :class:`FitFailed` with a one-line explanation.
    """
    import keras

    from workshop.checks._core import explain_symbolic_failure, quiet

    model = student_class(beta=0.5, **_STEP_ARGS)
    model.set_weights(_initial_weights(model))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=_STEP_LEARNING_RATE), jit_compile=False, steps_per_execution=1)
    x = _check_batch(steps * batch_size)
    try:
        with quiet():
            history = model.fit(x, epochs=1, batch_size=batch_size, shuffle=False, verbose=0)
    except Exception as error:
        said = str(error)
        if "No gradients provided" in said or "compute_loss" in said or "no loss" in said.lower():
            raise FitFailed(
                "inside `fit`, train_step computed no loss to differentiate: `super().train_step(data)` runs "
                "Keras's default step, which knows nothing of the ELBO; compute the loss yourself under the tape"
            ) from None
        raise FitFailed(
            explain_symbolic_failure(error).replace("it works on arrays but fails", "one step works eagerly but train_step fails", 1)
        ) from None
    logs = {k: v[-1] for k, v in history.history.items()}
    missing = [name for name in METRIC_NAMES if name not in logs]
    if missing:
        raise FitFailed(f"`fit` reports {sorted(logs)}, expected the metrics {list(METRIC_NAMES)}")
    bad = [name for name in METRIC_NAMES if not np.isfinite(float(logs[name]))]
    if bad:
        raise FitFailed(f"inside `fit` the {bad[0]} is {float(logs[bad[0]])}, not a finite number")
    return logs


def _as_step_function(student_class):
    from workshop.models import VAE

    if not (isinstance(student_class, type) and issubclass(student_class, VAE)):
        shown = student_class.__name__ if isinstance(student_class, type) else type(student_class).__name__
        raise TypeError(f"Expected the class StudentVAE (a subclass of workshop.VAE), not an instance or a function. Received: {shown}")

    def step(beta):
        with _package_step_forbidden():
            return _one_step(student_class, beta)

    return step


def check_train_step(student_class, verbose=True, strict=None):
    """Check ``StudentVAE.train_step``: one step must match the package's ``VAE`` exactly.

    Both models start from the same weights (a small 784-32-3 network), take one
    SGD step on the same 16 binarized digits with the same reparameterisation
    noise, and must return the same ``loss``, ``reconstruction_loss`` and
    ``kl_loss``, leave the same values in the metric trackers and make the same
    weight updates. Two cases: ``beta = 1`` and ``beta = 0.5``.

    Args:
        student_class: the student's subclass of :class:`workshop.VAE` (the class,
            not an instance).
        verbose, strict: as in :func:`workshop.checks.check_function`.

    Returns:
        A :class:`workshop.checks.CheckResult`.
    """
    from workshop.models import VAE

    try:
        student_fn = _as_step_function(student_class)
    except TypeError as error:
        message = str(error)

        def student_fn(beta):
            raise TypeError(message)

    if isinstance(student_class, type) and issubclass(student_class, VAE) and student_class.train_step is VAE.train_step:

        def student_fn(beta):  # noqa: F811 - nothing overridden yet
            raise NotImplementedError("Exercise StudentVAE.train_step: override train_step.")

    result = check_function(
        "train_step",
        student_fn,
        _reference_step,
        [{"beta": 1.0}, {"beta": 0.5}],
        mistakes=TRAIN_STEP_MISTAKES,
        compare=_compare_steps,
        verbose=False,
        strict=False,
    )
    if result.passed:
        try:
            with _package_step_forbidden():
                _fit_run(student_class)
        except FitFailed as error:
            return check_custom("train_step", lambda error=error: (False, str(error)), verbose=verbose, strict=strict)
        except NotImplementedError as error:
            return check_custom("train_step", lambda error=error: (_ for _ in ()).throw(error), verbose=verbose, strict=strict)
        except Exception as error:  # noqa: BLE001 - reported as one line
            return check_custom("train_step", lambda error=error: (_ for _ in ()).throw(error), verbose=verbose, strict=strict)
    return report(result, verbose, strict)
