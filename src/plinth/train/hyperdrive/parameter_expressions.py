"""Functions describing a hyperparameter search space (azureml's ``parameter_expressions``).

Each returns azureml's JSON-able list form, e.g. ``uniform(0, 1) == ["uniform", [0, 1]]``,
to use as a value of a sampling's ``parameter_space``::

    RandomParameterSampling({
        "--learning_rate": loguniform(-6, -1),      # exp(uniform(-6, -1))
        "--batch_size": choice(16, 32, 64),
    })

Quantised forms (``q*``) give ``round(x / q) * q``: an ``int`` when ``q`` is an int. Bad
arguments raise :class:`~plinth.exceptions.UserErrorException` naming the function and the
argument.
"""

from __future__ import annotations

from typing import Any

from plinth._tuning.space import expression
from plinth.exceptions import UserErrorException

__all__ = [
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]


def choice(*options: Any) -> list:
    """A discrete set of options: ``choice(1, 2, 3)``, ``choice([1, 2, 3])`` or
    ``choice(range(1, 4))`` all give ``["choice", [[1, 2, 3]]]``.

    Options are JSON scalars (str, int, float, bool or None), each given once.
    """
    if len(options) == 1 and isinstance(options[0], (list, tuple, range)):
        options = tuple(options[0])
    elif any(isinstance(option, (list, tuple, range)) for option in options):
        raise UserErrorException(
            "choice(*options): give either one list or range, e.g. choice([1, 2]), or several "
            f"values, e.g. choice(1, 2), not a mix; got {options!r}."
        )
    return expression("choice", [list(options)])


def randint(upper: int) -> list:
    """A random integer in ``[0, upper)``, for values with no order such as seeds."""
    return expression("randint", [upper])


def uniform(min_value: float, max_value: float) -> list:
    """A value uniformly distributed in ``[min_value, max_value]``."""
    return expression("uniform", [min_value, max_value])


def quniform(min_value: float, max_value: float, q: float) -> list:
    """``round(uniform(min_value, max_value) / q) * q``."""
    return expression("quniform", [min_value, max_value, q])


def loguniform(min_value: float, max_value: float) -> list:
    """``exp(uniform(min_value, max_value))``: values in ``[exp(min_value), exp(max_value)]``.

    The bounds are exponents, as in azureml: ``loguniform(-6, -1)`` spans about 0.0025-0.37.
    """
    return expression("loguniform", [min_value, max_value])


def qloguniform(min_value: float, max_value: float, q: float) -> list:
    """``round(exp(uniform(min_value, max_value)) / q) * q``; the bounds are exponents."""
    return expression("qloguniform", [min_value, max_value, q])


def normal(mu: float, sigma: float) -> list:
    """A normally distributed value with mean ``mu`` and standard deviation ``sigma``."""
    return expression("normal", [mu, sigma])


def qnormal(mu: float, sigma: float, q: float) -> list:
    """``round(normal(mu, sigma) / q) * q``."""
    return expression("qnormal", [mu, sigma, q])


def lognormal(mu: float, sigma: float) -> list:
    """``exp(normal(mu, sigma))``: always positive."""
    return expression("lognormal", [mu, sigma])


def qlognormal(mu: float, sigma: float, q: float) -> list:
    """``round(exp(normal(mu, sigma)) / q) * q``."""
    return expression("qlognormal", [mu, sigma, q])
