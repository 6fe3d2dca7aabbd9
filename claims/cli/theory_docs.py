"""Generate `docs/theory.md` from the `theory` package, so the formulas on the page are the code's.

Every formula below is the sympy expression the verifier computes, printed with `sympy.latex`
inside `$$ ... $$` blocks (MathJax via `pymdownx.arithmatex`). The few formulas typed by hand
(conventions, definitions) are checked against the code here, so a change in `theory/` that they
no longer describe stops this script with an AssertionError instead of leaving a stale page.

**Usage:**

    python scripts/make_theory_docs.py              # write docs/theory.md
    python scripts/make_theory_docs.py --out PATH   # write somewhere else
    python scripts/make_theory_docs.py --check      # exit 1 if the file on disk is out of date (CI)

Exit codes: 0 success, 1 `--check` found drift, 2 usage errors.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
import tempfile
from pathlib import Path

import sympy as sp

import theory
import theory.dynamics
from claims.cli._common import Parser


ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "theory.md"
SCRIPT = "scripts/make_theory_docs.py"

ACTIVATIONS = ("he1", "he2", "he3", "he4", "he5", "he6", "relu", "erf", "tanh")
LATENTS = ("rademacher", "uniform", "laplace", "skewed", "gaussian")
LATENT_TEXT = {
    "rademacher": r"$\pm 1$ with probability $1/2$ each",
    "uniform": r"uniform on $[-\sqrt 3, \sqrt 3]$",
    "laplace": r"Laplace with scale $1/\sqrt 2$",
    "skewed": r"atoms $2$ w.p. $1/5$, $-1/2$ w.p. $4/5$ (`skewed:RHO`; default $\rho = 1/5$)",
    "gaussian": r"$\mathcal N(0, 1)$: no signal beyond order 2",
}
COMBOS = (
    ("phase", "rademacher", "-he4"),
    ("phase", "rademacher", "he4"),
    ("phase", "rademacher", "relu"),
    ("phase", "rademacher", "he3"),
    ("phase", "laplace", "he4"),
    ("phase", "skewed", "he3"),
    ("amplitude", "rademacher", "he2"),
    ("amplitude", "rademacher", "relu"),
    ("mean", "rademacher", "he1"),
    ("phase", "gaussian", "-he4"),
)
EXAMPLE = ("phase", "rademacher", "-he4")
EXAMPLE_BETA = 10
DIMS = (16, 32, 64, 128, 256)
TANH_DIGITS = 12
beta = theory.snr
gamma = sp.Symbol("gamma", positive=True)


# ---- formatting helpers ----------------------------------------------------------------------
def fill(template: str, **values) -> str:
    """Replace `<<name>>` by `values[name]`; prose stays a raw string with plain LaTeX braces."""
    for key, value in values.items():
        template = template.replace(f"<<{key}>>", str(value))
    assert "<<" not in template, f"unfilled placeholder in: {template[:80]!r}"
    return template.strip("\n")


def tex(expr) -> str:
    """sympy.latex, safe inside a Markdown table cell (no bare `|`)."""
    text = expr if isinstance(expr, str) else sp.latex(expr)
    return text.replace("|", r"\vert ")


def inline(expr) -> str:
    return f"${tex(expr)}$"


def block(lhs: str, expr=None) -> str:
    """A display-math block: `lhs` (LaTeX) followed by sympy.latex(expr) if given."""
    body = lhs if expr is None else lhs + sp.latex(expr)
    return "$$\n" + body + "\n$$"


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def num(value, digits: int = TANH_DIGITS) -> sp.Expr:
    """Exact numbers unchanged; floats (tanh) rounded for display."""
    value = sp.sympify(value)
    if value.has(sp.Float):
        return sp.Float(sp.N(value, digits), digits)
    return value


def fmt(value: float, spec: str = ".4g") -> str:
    if math.isinf(value):
        return r"$\infty$"
    return format(value, spec)


def code_text(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def combo(task: str, lat: str, act: str) -> str:
    return f"`{task}` / `{lat}` / `{act}`"


def section(*parts: str) -> str:
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def stub_dynamics(loss: theory.PopulationLoss) -> theory.OverlapDynamics:
    """An OverlapDynamics for a loss with *symbolic* beta, to print its symbolic formulas.

    OverlapDynamics validates that beta is numeric because its numeric methods need it; drift,
    shrink, noise_variance and rate are pure sympy and are computed here by the class's own code.
    """
    obj = object.__new__(theory.OverlapDynamics)
    object.__setattr__(obj, "loss", loss)
    object.__setattr__(obj, "m_escape", theory.ESCAPE_OVERLAP)
    return obj


# ---- sections --------------------------------------------------------------------------------
def section_ours() -> str:
    ex = theory.OverlapDynamics(theory.PopulationLoss(*EXAMPLE, beta=EXAMPLE_BETA))
    for dim in DIMS:  # the budget formula printed below is the code's
        want = (
            dim ** (ex.k - 1)
            * math.log(dim) ** 2
            / (max(ex.k - 2, 1) * ex.k * float(ex.a) * ex.default_delta0)
        )
        assert math.isclose(ex.escape_scale(dim), want, rel_tol=1e-12), "escape_scale changed"
    intro = r"""
## Which definitions are ours

The full text of the seed paper (Ricci, Merger, Goldt, "A Fourier perspective on the learning
dynamics of neural networks", ICML 2026) was **not available** when this code was written: only
its abstracts and the predecessor papers were (`reference/theory-brief.md`, sections 1.2 and 1.3).
The definitions below are therefore **our reconstruction: hypotheses that the verifier tests**,
not transcriptions of the paper. Check them first when the paper's text is at hand.

- **Tasks**, i.e. the spike coordinate $X_u$ of the structured class along the hidden direction
  $u$ (docstring of `theory/_latents.py`), with $z \sim \mathcal N(0, 1)$ and $g$ a latent of mean
  0 and variance 1; the noise class is $\mathcal N(0, I_N)$:
    - `phase`: $X_u = (z + \sqrt\beta\, g)/\sqrt{1+\beta}$, the whitened spiked cumulant. Mean and
      variance equal the noise class's, so the expected Fourier amplitudes are equal and only
      cumulants of order $\ge 3$ (phase information) differ;
    - `amplitude`: $X_u = \sqrt{1+\beta}\, z$: the power along $u$ differs (second order);
    - `mean`: $X_u = z + \sqrt\beta$: the mean along $u$ differs (first order).
- **Loss**: the correlation loss $L = -y\,\sigma(w\cdot x)$ for a unit-norm student $w$, with
  labels $y = +1$ (structured) and $y = -1$ (noise), each with probability $p = 1/2$.
- **Step-size rule**: the BAGJ schedule $\delta_N$ (below) with $\delta_0$ the smaller of the
  value that makes drift / shrink $= <<ratio>>$ at $m_0 = N^{-1/2}$ for $N = <<refdim>>$ and the
  value that keeps the per-sample drift scale $(\delta_N/N)\,k\,a_k \le <<cap>>$ at
  $N = <<refdim>>$ (`OverlapDynamics.default_delta0`); default batch
  $B = \mathrm{round}(N^{(k-2)/2})$ samples per step (`OverlapDynamics.batch_size`).
- **Escape**: the first sample count with $\lvert m\rvert \ge m_1$, $m_1 = <<m1>>$
  (`theory.ESCAPE_OVERLAP`).
- **Budget**: a sweep runs each trajectory for a multiple of the *upper* threshold carrying the
  theory's prefactor (`OverlapDynamics.escape_scale`),
  $n_{\mathrm{scale}}(N) = n_{\mathrm{upper}}(N) \,/\, \big(\max(k-2, 1)\, k\, a_k\, \delta_0\big)$
  with $n_{\mathrm{upper}} = N^{k-1}\log^2 N$ for $k \ge 3$ (table below for $k \le 2$); for
  $k \ge 3$ this is about $\log N$ times the leading-order escape count from $m_0 = N^{-1/2}$
  (exactly so when $m_1^{-(k-2)}$ is neglected).
- **Data model**: inputs are periodic signals or $L\times L$ images written in real orthonormal
  *Fourier coordinates* (the self-conjugate DFT modes, and $\sqrt2\,\mathrm{Re}$,
  $\sqrt2\,\mathrm{Im}$ of one mode of every conjugate pair; by Parseval, overlaps are the same in
  pixels and in coordinates). The noise class is the stationary Gaussian process with a flat (or
  power-law) spectrum: Rayleigh amplitudes and uniform phases. The spike $u$ has flat amplitudes
  and uniform random phases; the structured class replaces the noise draw's coordinate along $u$
  by $X_u$ (`sims/_data.py`).
"""
    return section(
        fill(
            intro,
            ratio=theory.dynamics.STABILITY_RATIO,
            refdim=theory.dynamics.REFERENCE_DIM,
            cap=theory.dynamics.MAX_RELATIVE_DRIFT,
            m1=theory.ESCAPE_OVERLAP,
        )
    )


def section_hermite() -> str:
    # the convention printed below is the code's: sigma_j = E[sigma He_j] = j! for sigma = He_j
    for j in range(1, 7):
        assert theory.hermite_coefficients(f"he{j}", 6)[j] == sp.factorial(j)
    poly_rows = [[str(j), inline(theory.hermite(j))] for j in range(7)]
    coeff_rows, moment_rows = [], []
    for name in ACTIVATIONS:
        label = f"`{name}`" + (" (numeric)" if name == "tanh" else "")
        coeff_rows.append([label] + [inline(num(c)) for c in theory.hermite_coefficients(name, 6)])
        moment_rows.append([label, inline(num(theory.derivative_second_moment(name)))])
    intro = r"""
## Hermite expansion

Probabilists' Hermite polynomials $\mathrm{He}_j$ are monic and orthogonal under
$Z \sim \mathcal N(0, 1)$, $\mathbb E[\mathrm{He}_i(Z)\,\mathrm{He}_j(Z)] = j!\,\delta_{ij}$. An
activation is expanded as
"""
    convention = (
        r"\sigma(x) = \sum_{j \ge 0} \frac{\sigma_j}{j!}\, \mathrm{He}_j(x), \qquad"
        r" \sigma_j = \mathbb E\left[\sigma(Z)\, \mathrm{He}_j(Z)\right],"
        r" \quad Z \sim \mathcal N(0, 1)."
    )
    coeffs = r"""
### Hermite coefficients $\sigma_0, \dots, \sigma_6$ (`theory.hermite_coefficients`)

Polynomials, ReLU and erf are exact (sympy integrals). **tanh has no closed form: its entries are
numeric** (mpmath quadrature at 40 significant digits, shown to <<digits>>). A leading `-` in an
activation name (e.g. `-he4`) flips every sign.
"""
    grad = r"""
### Gradient size $\mathbb E[\sigma'(Z)^2]$ (`theory.derivative_second_moment`)

This is $s$ below: the per-sample squared gradient is $s N$ near $m = 0$, which sets the spherical
shrink and the noise. tanh is numeric.
"""
    return section(
        intro,
        block(convention),
        table(["$j$", r"$\mathrm{He}_j(x)$ (`theory.hermite(j)`)"], poly_rows),
        fill(coeffs, digits=TANH_DIGITS),
        table(["activation"] + [f"$\\sigma_{j}$" for j in range(7)], coeff_rows),
        grad,
        table(["activation", r"$s = \mathbb E[\sigma'(Z)^2]$"], moment_rows),
    )


def section_latents() -> str:
    rows = []
    for name in LATENTS:
        lat = theory.latent(name)
        rows.append(
            [
                f"`{name}`",
                LATENT_TEXT[name],
                inline(lat.moments[3]),
                inline(lat.moments[4]),
                inline(lat.cumulant(3)),
                inline(lat.cumulant(4)),
            ]
        )
    intro = r"""
## Latents (`theory.latent`)

A latent $g$ has mean 0 and variance 1 and is known through its exact moments
$\mathbb E[g^p]$, $p \le 12$. Any other law can be given as `<<spec>>`; moments that
belong to no distribution ($\mathbb E[g^4] < 1 + \mathbb E[g^3]^2$) are refused.
"""
    header = ["latent", "law", r"$\mathbb E[g^3]$", r"$\mathbb E[g^4]$", r"$\kappa_3$", r"$\kappa_4$"]
    return section(fill(intro, spec=theory.LATENT_NAMES[-1]), table(header, rows))


def section_spike() -> str:
    rad = theory.latent("rademacher")
    mu_rad = theory.spike_hermite_moments("phase", rad)
    # the identities stated on the page are the code's
    assert all(mu_rad[j] == 0 for j in (1, 2, 3))
    assert sp.simplify(mu_rad[4] + 2 * beta**2 / (1 + beta) ** 2) == 0
    phase_rows = []
    for name in LATENTS:
        lat = theory.latent(name)
        mu = theory.spike_hermite_moments("phase", lat)
        assert mu[1] == 0 and mu[2] == 0
        assert sp.simplify(mu[3] - lat.cumulant(3) * (beta / (1 + beta)) ** sp.Rational(3, 2)) == 0
        assert sp.simplify(mu[4] - lat.cumulant(4) * (beta / (1 + beta)) ** 2) == 0
        phase_rows.append([f"`{name}`"] + [inline(sp.factor(mu[j])) for j in range(1, 7)])
    other_rows, stat_rows = [], []
    for task in ("amplitude", "mean"):
        mu = theory.spike_hermite_moments(task, rad)
        other_rows.append([f"`{task}`"] + [inline(sp.factor(mu[j])) for j in range(1, 7)])
    for task in theory.TASK_NAMES:
        raw = theory.spike_moments(task, rad)
        stat_rows.append([f"`{task}`", inline(raw[1]), inline(sp.factor(raw[2] - raw[1] ** 2))])
    mu_header = [f"$\\mu_{j}$" for j in range(1, 7)]
    intro = r"""
## Spike Hermite moments (`theory.spike_hermite_moments`)

For a unit-norm student $w$ with overlap $m = w\cdot u$, the structured class gives
$\mathbb E[\mathrm{He}_j(w\cdot x)] = m^j \mu_j$ with $\mu_j = \mathbb E[\mathrm{He}_j(X_u)]$
(Hermite addition formula); the noise class gives $0$ for $j \ge 1$.

Mean and variance of the spike coordinate (`theory.spike_moments`, the same for every latent):
"""
    phase = r"""
### Phase task, symbolic $\beta$

For the phase task $\mu_1 = \mu_2 = 0$ and, for every latent,
$\mu_3 = \kappa_3(g)\,\beta^{3/2}/(1+\beta)^{3/2}$ and $\mu_4 = \kappa_4(g)\,\beta^2/(1+\beta)^2$
(both identities are checked when this page is generated). For Rademacher $g$ ($\kappa_4 = -2$,
the spiked cumulant model), $\mu_1 = \mu_2 = \mu_3 = 0$ and
"""
    return section(
        intro,
        table(["task", r"$\mathbb E[X_u]$", r"$\mathrm{Var}[X_u]$"], stat_rows),
        phase,
        block(r"\mu_4^{\mathrm{phase,\ rademacher}} = ", sp.factor(mu_rad[4])),
        table(["latent"] + mu_header, phase_rows),
        "### Amplitude and mean tasks (independent of the latent)",
        table(["task"] + mu_header, other_rows),
    )


def section_population() -> str:
    rows, verdicts = [], []
    for task, lat, act in COMBOS:
        loss = theory.PopulationLoss(task, lat, act)
        k = loss.information_exponent
        rows.append(
            [
                f"`{task}`",
                f"`{lat}`",
                f"`{act}`",
                inline(loss.series),
                "none" if k is None else str(k),
                "none" if k is None else inline(sp.factor(loss.leading_coefficient)),
                "yes" if loss.recoverable else "**no**",
            ]
        )
        verdicts.append(f"- {combo(task, lat, act)}: {code_text(loss.verdict)}")
    rec_rows = []
    for task in theory.TASK_NAMES:
        row = [f"`{task}`"]
        for lat in LATENTS:
            try:
                row.append(f"`{theory.recommended_activation(task, lat)}`")
            except ValueError:
                row.append("none (no signal)")
        rec_rows.append(row)
    ex = theory.PopulationLoss(*EXAMPLE)  # phi = -a_k m^k, as displayed
    assert sp.simplify(ex.series + ex.leading_coefficient * theory.m**4) == 0
    intro = r"""
## Population loss and information exponent (`theory.PopulationLoss`)

With the correlation loss and balanced labels,
"""
    phi = (
        r"\varphi(m) = \mathbb E\left[-y\, \sigma(w\cdot x)\right]"
        r" = -\frac12 \sum_{j \ge 1} \frac{\sigma_j}{j!}\, \mu_j\, m^j"
        r" = -a_k\, m^k + O(m^{k+1})."
    )
    explain = r"""
The information exponent $k$ is the first $j \ge 1$ with $\sigma_j \mu_j \ne 0$. Recovery from a
random start needs $m = 0$ to be unstable: $a_k > 0$ for even $k$ (otherwise $m = 0$ is a local
minimum of $\varphi$); odd $k$ always has a descent direction, from the half-sphere
$\mathrm{sign}(a_k)\, m > 0$. The series is truncated at order 8 (or at the highest order the
latent's moments fix).
"""
    rec = r"""
### Recommended activation (`theory.recommended_activation`)

$\pm\mathrm{He}_k$ with $k$ the task's information exponent and the sign that makes $a_k > 0$:
"""
    return section(
        intro,
        block(phi),
        explain,
        table(["task", "latent", "activation", r"$\varphi(m)$", "$k$", "$a_k$", "recoverable"], rows),
        "Verdicts (`PopulationLoss.verdict`), verbatim:",
        "\n".join(verdicts),
        rec,
        table(["task"] + [f"`{lat}`" for lat in LATENTS], rec_rows),
    )


def section_dynamics() -> str:
    sym = stub_dynamics(theory.PopulationLoss(*EXAMPLE))
    at_beta = theory.OverlapDynamics(theory.PopulationLoss(*EXAMPLE, beta=EXAMPLE_BETA))
    intro = r"""
## Overlap dynamics (`theory.OverlapDynamics`)

One fresh sample per step (BAGJ): $w \leftarrow (w - \tfrac{\delta}{N} \nabla L)/\lVert\cdot\rVert$.
To second order in the step, with $s = \mathbb E[\sigma'(Z)^2]$ and $\lVert x\rVert^2 = N$, the
overlap moves per sample by a **drift** (the population gradient projected on the sphere), a
**shrink** (renormalisation after a step of squared norm $(\delta/N)^2 s N$) and a martingale
**noise**. A mini-batch of $B$ samples with step $(\delta/N)\sum_b \nabla L_b$ has the same
per-sample terms, so the sample count does not depend on $B$ while $B \ll N^{k/2}$.

For <<combo>> with symbolic $\beta$ ($s = <<s>>$), printed from the class's own `drift`, `shrink`
and `noise_variance`:
"""
    ode = r"""
and at $\beta = <<beta>>$ the deterministic overlap ODE (`rate` = drift + shrink) is
"""
    return section(
        fill(intro, combo=combo(*EXAMPLE), s=sp.latex(sym.s)),
        block(r"\mathbb E[\Delta m]_{\mathrm{drift}} = ", sym.drift),
        block(r"\mathbb E[\Delta m]_{\mathrm{shrink}} = ", sym.shrink),
        block(r"\mathrm{Var}[\Delta m] = ", sym.noise_variance),
        fill(ode, beta=EXAMPLE_BETA),
        block(r"\frac{dm}{dn} = ", at_beta.rate),
    )


def section_escape() -> str:
    leading = [
        block(f"n_{{\\mathrm{{esc}}}}^{{(k = {k})}} = ", theory.escape_samples_leading(k))
        for k in (1, 2, 3, 4)
    ]
    sched_rows = [
        [
            str(k),
            inline(theory.step_schedule(k)),
            inline(theory.lower_threshold(k)),
            inline(theory.upper_threshold(k)),
        ]
        for k in (1, 2, 3, 4)
    ]
    at_start = sp.simplify(
        theory.escape_samples_leading(4).subs(
            {
                theory.dynamics.m0: theory.dynamics.N ** sp.Rational(-1, 2),
                theory.dynamics.delta: theory.step_schedule(4),
            }
        )
    )
    intro = r"""
## Escape samples (search phase)

Under the drift alone, $dm/dn = (\delta/N)\,k\,a_k\,m^{k-1}$, so the number of samples from $m_0$
to $m_1$ is $n = \int_{m_0}^{m_1} N\,dm \,/\, (\delta\, k\, a_k\, m^{k-1})$, integrated by sympy
(`theory.escape_samples_leading(k)`):
"""
    thresholds = r"""
### Step schedule and thresholds (BAGJ)

The step $\delta_N$ is `theory.step_schedule(k)`. SGD from a random start does not leave the
equator for $n \ll$ the lower threshold (`theory.lower_threshold(k)`) and recovers the spike for
$n \gg$ the upper threshold (`theory.upper_threshold(k)`; powers of $N$ and $\log N$ from
`theory.threshold_powers(k)`). For $k \ge 3$ these are BAGJ's $N^{k-1}$ and $N^{k-1}\log^2 N$;
for the phase task ($k = 4$), $N^3$ and $N^3\log^2 N$: the seed paper's numbers. For $k = 1$
any $n/N \to \infty$ suffices, and the upper $N\log N$ is our choice.
"""
    return section(
        intro,
        *leading,
        "For general $k \\ge 3$ (`theory.escape_samples_general()`):",
        block(r"n_{\mathrm{esc}} = ", theory.escape_samples_general()),
        "With $k = 4$, $m_0 = N^{-1/2}$ and the schedule $\\delta = \\delta_N$ below, the count "
        "grows as $N^3 \\log N$:",
        block(r"n_{\mathrm{esc}}^{(k = 4)}\Big\vert_{m_0 = N^{-1/2},\ \delta = \delta_N} = ", at_start),
        thresholds,
        table(["$k$", r"$\delta_N$", "lower threshold", "upper threshold"], sched_rows),
    )


def section_delta0() -> str:
    """Long because it is one section of the generated page, derivation by derivation."""
    sym = stub_dynamics(theory.PopulationLoss(*EXAMPLE))
    ratio = sp.simplify(
        (-sym.drift / sym.shrink).subs(
            {theory.m: gamma / sp.sqrt(theory.dynamics.N), theory.dynamics.delta: theory.step_schedule(sym.k)}
        )
    )
    ref, stab, cap = (
        theory.dynamics.REFERENCE_DIM,
        theory.dynamics.STABILITY_RATIO,
        theory.dynamics.MAX_RELATIVE_DRIFT,
    )
    rule = (
        r"\delta_0 = \min\left(\frac{2\, k\, a_k \log "
        + str(ref)
        + "}{"
        + str(stab)
        + r"\, s},\ \frac{"
        + sp.latex(sp.Float(cap, 3))
        + r" \cdot "
        + str(ref)
        + r"}{k\, a_k\, \delta_{"
        + str(ref)
        + r"}/\delta_0}\right)"
    )
    rows = []
    for task, lat, act in COMBOS:
        loss = theory.PopulationLoss(task, lat, act, beta=EXAMPLE_BETA)
        if not loss.recoverable:
            continue
        d = theory.OverlapDynamics(loss)
        k, a, s = d.k, float(d.a), float(d.s)
        stability = 2 * k * a * math.log(ref) / (stab * s)
        unit = float(theory.step_schedule(k).subs({theory.dynamics.N: ref, theory.dynamics.delta0: 1}))
        small = cap * ref / (k * a * unit)
        assert math.isclose(d.default_delta0, min(stability, small), rel_tol=1e-12), (
            "default_delta0 no longer matches the rule printed by make_theory_docs.py"
        )
        step = d.step(ref)
        at = {theory.m: ref**-0.5, theory.dynamics.N: ref, theory.dynamics.delta: step}
        exact = float((-d.drift / d.shrink).subs(at))
        rows.append(
            [
                f"`{task}`",
                f"`{lat}`",
                f"`{act}`",
                str(k),
                fmt(stability),
                fmt(small),
                fmt(d.default_delta0),
                fmt(step),
                fmt(exact, ".3f"),
                fmt(step / ref * k * a, ".3g"),
            ]
        )
    intro = r"""
## Default $\delta_0$ (our rule)

`OverlapDynamics.default_delta0` is the smaller of two values, both set at $N = <<refdim>>$ under
the schedule $\delta_N$: the drift beats the shrink by a factor <<ratio>> at $m_0 = N^{-1/2}$
(ignoring the $(1 - m^2)$ factor and the higher orders of $\varphi$), and the per-sample drift
scale $(\delta_N/N)\,k\,a_k$ is at most <<cap>> (small steps; this binds for $k \le 2$, where
the schedule does not shrink the step with $N$):
"""
    middle = r"""
For <<combo>> the code's drift / shrink ratio at $m_0 = \gamma N^{-1/2}$ under the schedule
$\delta = \delta_N$ is
"""
    after = r"""
so it grows like $\log N$: the smallest $N$ is the hardest case. At $\beta = <<beta>>$ the rule
gives the table below ("drift / shrink": the code's exact ratio at $N = <<refdim>>$,
$m_0 = N^{-1/2}$, with the $(1 - m^2)$ factor and all orders of $\varphi$; last column: the
per-sample drift scale at $N = <<refdim>>$).
"""
    header = [
        "task",
        "latent",
        "activation",
        "$k$",
        "stability value",
        "small-step value",
        r"$\delta_0$",
        f"$\\delta_{{{ref}}}$",
        "drift / shrink",
        f"$(\\delta_{{{ref}}}/{ref})\\,k\\,a_k$",
    ]
    return section(
        fill(intro, ratio=stab, refdim=ref, cap=cap),
        block(rule),
        fill(middle, combo=combo(*EXAMPLE)),
        block(r"\frac{\text{drift}}{\lvert\text{shrink}\rvert} = ", ratio),
        fill(after, beta=EXAMPLE_BETA, refdim=ref),
        table(header, rows),
    )


def section_table() -> str:
    d = theory.OverlapDynamics(theory.PopulationLoss(*EXAMPLE, beta=EXAMPLE_BETA))
    rows = []
    for dim in DIMS:
        step = d.step(dim)
        n3 = float(dim) ** 3
        start = dim**-0.5
        median = theory.median_abs_start(dim)
        rows.append(
            [
                str(dim),
                fmt(step, ".4e"),
                fmt(d.ode_escape_samples(dim, step, start) / n3, ".2f"),
                fmt(d.leading_escape_samples(dim, step, start) / n3, ".2f"),
                fmt(median, ".4f"),
                fmt(d.ode_escape_samples(dim, step, median) / n3, ".2f"),
                fmt(math.log(dim) ** 2, ".2f"),
                fmt(d.escape_scale(dim) / n3, ".2f"),
                str(d.batch_size(dim)),
            ]
        )
    intro = r"""
## ODE escape samples (numeric)

<<combo>> at $\beta = <<beta>>$ ($a_4 = <<a>>$, $s = <<s>>$, $\delta_0 = <<d0>>$), step
$\delta_N$ from the default schedule, escape at $m_1 = <<m1>>$. "ODE" integrates
$dm/dn$ = drift + shrink (`ode_escape_samples`); "leading" is the drift-only closed form
(`leading_escape_samples`). The median random start is the median of $\lvert w\cdot u\rvert$ for
$w$ uniform on the sphere (`theory.median_abs_start`; $m^2 \sim \mathrm{Beta}(1/2, (N-1)/2)$).
Counts are divided by $N^3$; since $\delta_N \propto 1/(N\log N)$ they grow like $\log N$. The
budget scale is `escape_scale`; the default batch is `batch_size` (the sample counts do not
depend on it).
"""
    header = [
        "$N$",
        r"$\delta_N$",
        r"ODE $n/N^3$, $m_0 = N^{-1/2}$",
        r"leading $n/N^3$, $m_0 = N^{-1/2}$",
        r"median $\lvert m_0\rvert$",
        r"ODE $n/N^3$, median start",
        r"upper threshold $/N^3$ ($\log^2 N$)",
        r"budget scale $/N^3$",
        "default batch $B$",
    ]
    return section(
        fill(
            intro,
            combo=combo(*EXAMPLE),
            beta=EXAMPLE_BETA,
            a=sp.latex(d.a),
            s=sp.latex(d.s),
            d0=f"{d.default_delta0:.6g}",
            m1=d.m_escape,
        ),
        table(header, rows),
    )


def render() -> str:
    header = (
        f"> Generated by `{SCRIPT}` from the `theory/` package. **Do not edit by hand**: run "
        f"`python {SCRIPT}` to regenerate (`--check` fails when this file is out of date).\n\n"
        "# Theory: the formulas the verifier computes\n\n"
        "Every formula on this page is printed from the sympy objects in `theory/`, so what you "
        "read here is what the claims compare the simulations with.\n"
    )
    parts = [
        header,
        section_ours(),
        section_hermite(),
        section_latents(),
        section_spike(),
        section_population(),
        section_dynamics(),
        section_escape(),
        section_delta0(),
        section_table(),
    ]
    return "\n".join(parts).rstrip("\n") + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # mkstemp creates 0600; keep the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="make_theory_docs.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output file (default: docs/theory.md)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file on disk differs from the output",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        try:
            current = args.out.read_text(encoding="utf-8")
        except FileNotFoundError:
            print(f"{args.out} is missing: run `python {SCRIPT}`", file=sys.stderr)
            return 1
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), "on disk", "generated", lineterm="", n=1
            )
            print("\n".join(list(diff)[:40]), file=sys.stderr)
            print(f"{args.out} is out of date: run `python {SCRIPT}`", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    write_atomic(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
