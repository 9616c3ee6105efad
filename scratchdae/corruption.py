r"""Corruption processes q(x~ | x): fresh noise on every call.

Each corruption is called as ``corrupt(x, rng) -> x~`` with a generator of
the array's backend (:meth:`scratchdae.backend.Backend.rng`); noise is drawn
directly in x's dtype, independently for every pixel of every example.
Equations (C1)-(C4) are in docs/derivations.md.

Specs on the command line: ``gaussian:0.5``, ``gaussian:0.5:clip``,
``masking:0.3``, ``salt-pepper:0.2``, ``none``.
"""
from .backend import Array, Rng, backend_of
from .validation import SIGMA_RANGE, check_fraction, check_positive


class Corruption:
    """Base class: ``corrupt(x, rng)`` draws x~ ~ q(x~ | x), fresh noise on every call."""

    name = "corruption"

    def __call__(self, x: Array, rng: Rng) -> Array:
        """x~ ~ q(x~ | x) for a batch x (N, D), the noise drawn in x's dtype from ``rng``."""
        raise NotImplementedError

    def spec(self) -> str:
        """The command-line spec that rebuilds this corruption."""
        return self.name

    def __repr__(self):
        return f"{type(self).__name__}({self.spec()!r})"


class NoCorruption(Corruption):
    """x~ = x: a plain autoencoder."""

    name = "none"

    def __call__(self, x: Array, rng: Rng) -> Array:
        """x~ = x: the input itself, not a copy."""
        return x


class GaussianNoise(Corruption):
    r"""x~ = x + s eps, eps ~ N(0, I)  (C1); with ``clip``, x~ = clip(x + s eps, 0, 1)  (C4).

    ``sigma`` is the noise's standard deviation, written s in docs/derivations.md.
    Clipped noise is no longer Gaussian corruption: q(x~ | x) has point masses
    at 0 and 1, and the score link (S3)-(S6) fails (docs/derivations.md, section 9.5).
    """

    name = "gaussian"

    def __init__(self, sigma: float = 0.5, clip: bool = False) -> None:
        self.sigma = check_positive(sigma, "noise sigma", SIGMA_RANGE)
        self.clip = bool(clip)

    def __call__(self, x: Array, rng: Rng) -> Array:
        """x~ = x + s eps  (C1), clipped to [0, 1] with ``clip``  (C4); a new array."""
        xp = backend_of(x).xp
        eps = rng.standard_normal(x.shape, dtype=x.dtype)  # N,D drawn in x's dtype
        eps *= self.sigma
        eps += x  # (C1) x~ = x + s eps, built in eps's buffer
        if self.clip:
            xp.clip(eps, 0, 1, out=eps)  # (C4) not Gaussian any more
        return eps

    def spec(self) -> str:
        """The spec ``gaussian:S``, or ``gaussian:S:clip`` for clipped noise."""
        return f"gaussian:{self.sigma:g}" + (":clip" if self.clip else "")


class Masking(Corruption):
    r"""Set each input, independently, to 0 with probability nu  (C2).

    The fraction zeroed in an image of D pixels is nu only in expectation: the
    count is Binomial(D, nu), so the fraction has std sqrt(nu (1 - nu) / D).
    """

    name = "masking"

    def __init__(self, nu: float = 0.3) -> None:
        self.nu = check_fraction(nu, "masking probability nu", closed_right=False)  # nu = 1 erases every input

    def __call__(self, x: Array, rng: Rng) -> Array:
        """x~_d = chi_d x_d with chi_d ~ Bernoulli(1 - nu)  (C2); a new array."""
        keep = rng.random(x.shape, dtype=x.dtype) >= self.nu  # N,D  P(keep) = 1 - nu
        return x * keep  # (C2)

    def spec(self) -> str:
        """The spec ``masking:NU``."""
        return f"masking:{self.nu:g}"


class SaltPepper(Corruption):
    r"""Set each input, independently, to ``high`` with probability nu/2 and to ``low`` with probability nu/2  (C3).

    ``low`` and ``high`` are fixed numbers, 0 and 1 unless given (the spec
    ``salt-pepper:NU`` always uses 0 and 1), not the image's minimum and maximum.
    As with masking, the fraction changed is nu only in expectation.
    """

    name = "salt-pepper"

    def __init__(self, nu: float = 0.2, low: float = 0.0, high: float = 1.0) -> None:
        self.nu = check_fraction(nu, "salt-and-pepper probability nu")
        if not low < high:
            raise ValueError(f"salt-and-pepper needs low < high, got low={low!r}, high={high!r}.")
        self.low, self.high = float(low), float(high)

    def __call__(self, x: Array, rng: Rng) -> Array:
        """Each pixel set to ``high`` with probability nu/2, to ``low`` with nu/2, else kept  (C3); a new array."""
        xp = backend_of(x).xp
        u = rng.random(x.shape, dtype=x.dtype)  # N,D one uniform per pixel decides its fate
        out = xp.where(u < self.nu / 2, self.high, x)  # (C3) salt with probability nu/2
        return xp.where((u >= self.nu / 2) & (u < self.nu), self.low, out)  # (C3) pepper with nu/2

    def spec(self) -> str:
        """The spec ``salt-pepper:NU``, which does not record ``low`` and ``high``."""
        return f"salt-pepper:{self.nu:g}"


CORRUPTIONS = {"none": NoCorruption, "gaussian": GaussianNoise, "masking": Masking, "salt-pepper": SaltPepper}


def get_corruption(spec: str | Corruption) -> Corruption:
    """A corruption from a spec string such as ``gaussian:0.5`` (see the module docstring)."""
    if isinstance(spec, Corruption):
        return spec
    parts = str(spec).split(":")
    name, args = parts[0], parts[1:]
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown noise {name!r} in {spec!r}; expected one of: {', '.join(CORRUPTIONS)} "
                         "(e.g. gaussian:0.5, masking:0.3, salt-pepper:0.2).")
    clip = name == "gaussian" and args[-1:] == ["clip"]
    if clip:
        args = args[:-1]
    if name == "none":
        if args:
            raise ValueError(f"noise 'none' takes no argument, got {spec!r}.")
        return NoCorruption()
    if len(args) > 1:
        raise ValueError(f"noise spec {spec!r} has too many parts; expected NAME:LEVEL (gaussian:S:clip for clipped "
                         f"Gaussian noise), e.g. {name}:0.3.")
    try:
        level = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"noise spec {spec!r}: the level must be a number, e.g. {name}:0.3.") from None
    try:
        if name == "gaussian":
            return GaussianNoise(*level, clip=clip)
        return CORRUPTIONS[name](*level)
    except ValueError as err:
        raise ValueError(f"noise spec {spec!r}: {err}") from None
