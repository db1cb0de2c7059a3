"""Instructor-only extra cases, run by :mod:`workshop.instructor.grading` after an exercise passes its public check.

They are stricter than the check cells students see (batches, edge cases, other
shapes) and are never printed in a student notebook. ``EXTRA_CHECKS`` maps a
checker's name (the nbgrader ``grade_id`` of the check cell) to a function that
takes the student's namespace and returns ``(ok, one-line message)``. An
exercise without an entry is reported as "public checks passed".
"""

import numpy as np

from workshop import probability


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
    rng = np.random.default_rng(2024)
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


EXTRA_CHECKS = {
    "check_kl_divergence": _kl_divergence,
    "check_gaussian_kl": _gaussian_kl,
}
