"""dB figures of the mixed-mode gains: the central-difference step, and limits where a magnitude is not resolved.

Independent truths: the closed-form gradient of ``20 log10 |a.s / b.s|`` (a, b the figures' linear forms on the
row-major S, docs/reference/measurement-methods.md §3.2, written out here, not taken from the code under test),
and Monte Carlo of the whole solve (``solve_mixed_mode`` on noisy phasors) against the S the phasors were made
from.
"""

import math

import numpy as np
import pytest

from procedures.analysis.gain_figures import (
    DB_FIGURES,
    LIMIT_K,
    LOWER_LIMIT,
    NO_VALUE,
    UPPER_LIMIT,
    VALUE,
    db_columns,
    db_figure,
    db_figure_rows,
    db_limit,
    figure_functions,
    format_db,
    gain_db_rows,
)
from procedures.analysis.gain_solve import solve_mixed_mode
from procedures.analysis.propagation import figure_u, from_real_vec, real_vec

T = np.array([[1, -1], [0.5, 0.5]])
# the measurement-methods §3.3 DUT (CMRR_diff 98 dB)
S_DOC = np.array([[-15.87, -2.0e-4], [-0.0397, -0.01998]], dtype=complex)
# linear forms on [Add, Acd, Adc, Acc]: numerator, denominator (Ad_se,k = +-Add/2 + Adc, Acm_se,k = Acc +- Acd/2)
FORMS = {"CMRR_se1_db": ([0.5, 0, 1, 0], [0, 0.5, 0, 1]), "CMRR_se2_db": ([-0.5, 0, 1, 0], [0, -0.5, 0, 1]),
         "CMRR_diff_db": ([1, 0, 0, 0], [0, 1, 0, 0]), "Add_over_Acc_db": ([1, 0, 0, 0], [0, 0, 0, 1])}
DB = 20 / math.log(10)


def _excite(S, vid, vic):
    Xm = np.array([vid, vic], dtype=complex)
    return np.linalg.solve(T, Xm), np.linalg.solve(T, S @ Xm)


def _true_db(S, name):
    a, b = (np.array(c, complex) for c in FORMS[name])
    return DB * math.log(abs(a @ S.reshape(-1)) / abs(b @ S.reshape(-1)))


def _analytic_u(S, cov, name):
    """First-order u of 20 log10 |N/D|: d ln|w| / d(Re s_k, Im s_k) = (Re, Im) of conj(w) c_k / |w|^2."""
    a, b = (np.array(c, complex) for c in FORMS[name])
    s = S.reshape(-1)
    n, d = a @ s, b @ s
    g = np.zeros(8)
    g[0::2] = (np.conj(n) * a).real / abs(n) ** 2 - (np.conj(d) * b).real / abs(d) ** 2
    g[1::2] = -(np.conj(n) * a).imag / abs(n) ** 2 + (np.conj(d) * b).imag / abs(d) ** 2
    return DB * math.sqrt(g @ cov @ g)


def _old_rule_u(S, cov, fn):
    """The former step rule: every component stepped by 1e-7 of S's largest."""
    x0 = real_vec(S)
    h = 1e-7 * np.max(np.abs(x0))
    J = np.array([(fn(from_real_vec(x0 + h * e)) - fn(from_real_vec(x0 - h * e))) / (2 * h) for e in np.eye(8)])
    return math.sqrt(J @ cov @ J)


def _solve(S, u, rng=None):
    X, Y = _excite(S, [0.02, 0.0], [0.0, 0.7])
    if rng is not None:
        X = X + u * (rng.standard_normal(X.shape) + 1j * rng.standard_normal(X.shape))
        Y = Y + u * (rng.standard_normal(Y.shape) + 1j * rng.standard_normal(Y.shape))
    return solve_mixed_mode(X, Y, np.full((2, 2), u), np.full((2, 2), u))


# ------------------------------------------------------------------------------------------------------------
# The step


def test_step_follows_each_element_so_a_tiny_resolved_acd_gets_the_right_derivative():
    """CMRR_diff 145 dB resolved at 100 u(Acd): the old step (1e-7 |Add| = 0.3 |Acd|) misses the derivative."""
    S = S_DOC.copy()
    S[0, 1] = abs(S[0, 0]) * 10 ** (-145 / 20) * np.exp(0.7j)
    sol = _solve(S, 2e-11)
    cov = sol.cov
    truth = _analytic_u(sol.S, cov, "CMRR_diff_db")
    value, u = figure_u(sol.S, cov, figure_functions()["CMRR_diff_db"])
    assert u == pytest.approx(truth, rel=1e-6)
    assert abs(sol.S[0, 1]) > 50 * math.sqrt(cov[2, 2])  # resolved: a value, with this u
    old = _old_rule_u(sol.S, cov, figure_functions()["CMRR_diff_db"])
    assert abs(old / truth - 1) > 0.02, old / truth  # what the former rule reported


@pytest.mark.parametrize("name", DB_FIGURES)
def test_step_changes_nothing_for_resolved_figures(name):
    """On the §3.3 DUT every figure is resolved: value bit-identical to the figure function, u equal to the
    closed form to 1e-6 and to the former rule's to 1e-4 (which was right there)."""
    sol = _solve(S_DOC, 5e-7)
    value, u, kind = db_figure(sol.S, sol.cov, name)
    assert kind == VALUE
    assert value == figure_functions()[name](sol.S)
    assert u == pytest.approx(_analytic_u(sol.S, sol.cov, name), rel=1e-6)
    assert u == pytest.approx(_old_rule_u(sol.S, sol.cov, figure_functions()[name]), rel=1e-4)


# ------------------------------------------------------------------------------------------------------------
# Limits


def test_db_limit_closed_forms():
    k = LIMIT_K
    assert db_limit(10.0, 0.01, 1e-3, 1e-4) == (VALUE, pytest.approx(math.nan, nan_ok=True))
    kind, v = db_limit(10.0, 0.01, 1e-4, 1e-3)
    assert kind == LOWER_LIMIT and v == pytest.approx(20 * math.log10((10 - k * 0.01) / (1e-4 + k * 1e-3)))
    kind, v = db_limit(1e-4, 1e-3, 10.0, 0.01)
    assert kind == UPPER_LIMIT and v == pytest.approx(20 * math.log10((1e-4 + k * 1e-3) / (10 - k * 0.01)))
    assert db_limit(1e-4, 1e-3, 1e-4, 1e-3)[0] == NO_VALUE
    assert db_limit(10.0, 0.0, 0.0, 0.0) == (LOWER_LIMIT, math.inf)  # noiseless zero denominator: >= inf, true


def test_columns_of_a_row():
    sol = _solve(S_DOC, 5e-7)
    cols = db_columns(sol.S, sol.cov, ideal=S_DOC)
    assert set(cols) == {f"{n}{s}" for n in DB_FIGURES for s in ("", "_u", "_kind")} | {
        n.replace("_db", "_ideal_db") for n in DB_FIGURES}
    assert all(cols[f"{n}_kind"] == VALUE for n in DB_FIGURES)
    assert cols["CMRR_diff_ideal_db"] == pytest.approx(_true_db(S_DOC, "CMRR_diff_db"))


def _acd_at(r_t: float, u: float) -> tuple[np.ndarray, float]:
    """S_DOC with |Acd| at ``r_t`` times its noise (the largest sd of its complex error at that drive)."""
    sol = _solve(S_DOC, u)
    sigma = math.sqrt(np.linalg.eigvalsh(sol.cov[2:4, 2:4])[-1])
    S = S_DOC.copy()
    S[0, 1] = r_t * sigma * np.exp(1.1j)
    return S, sigma


def _monte_carlo(S, u, n, seed):
    rng = np.random.default_rng(seed)
    truth = _true_db(S, "CMRR_diff_db") if S[0, 1] != 0 else math.inf
    out = []
    for _ in range(n):
        sol = _solve(S, u, rng)
        out.append((*db_figure(sol.S, sol.cov, "CMRR_diff_db"), _old_rule_u(sol.S, sol.cov,
                                                                               figure_functions()["CMRR_diff_db"])))
    return truth, out


def test_unresolved_acd_is_a_lower_limit_that_holds():
    """The 2n3904 cm-range case: true CMRR_diff 129 dB, |Acd| a tenth of its noise. First-order values were
    some 25 dB low with u of 4-10 dB; now every trial is a lower limit and every limit holds."""
    u = 2e-5
    S, sigma = _acd_at(0.1, u)
    truth, out = _monte_carlo(S, u, 600, 11)
    kinds = [o[2] for o in out]
    assert kinds.count(LOWER_LIMIT) == len(out)
    assert all(truth >= o[0] for o in out)
    # what first-order values would have claimed (independent of the code under test: value from S, old u)
    sol = _solve(S, u, np.random.default_rng(11))
    z_old = (figure_functions()["CMRR_diff_db"](sol.S) - truth) / _old_rule_u(sol.S, sol.cov,
                                                                             figure_functions()["CMRR_diff_db"])
    assert z_old < -3


# the chance, over all trials, of a value with |z| >= 3 (Rice distribution of |Acd| with k = LIMIT_K = 5: 0.2 %
# at r_t = 2, 1.1 % at 4, 0.5 % at 8; a Gaussian figure would have 0.27 %; decision 0015's table), with room for
# 800 trials' scatter
Z3_MAX = {0.0: 0.003, 2.0: 0.01, 4.0: 0.025, 8.0: 0.015}


@pytest.mark.parametrize("r_t", sorted(Z3_MAX))
def test_monte_carlo_coverage_around_the_threshold(r_t):
    """|Acd| from none to 8 times its noise: a value is reported with probability near 0 for r_t = 0
    (exp(-k^2/2) = 3.7e-6), values off by 3 u or more stay within the Rice distribution's few per cent (the
    log's curvature near the threshold), and a limit holds with probability >= 1 - 2 exp(-k^2/2)."""
    u = 2e-5
    S, sigma = _acd_at(r_t, u)
    n = 800
    truth, out = _monte_carlo(S, u, n, 100 + int(r_t))
    values = [(v, uu) for v, uu, kind, _ in out if kind == VALUE]
    limits = [v for v, _, kind, _ in out if kind == LOWER_LIMIT]
    assert len(values) + len(limits) == n
    if r_t == 0.0:
        assert len(values) <= 2
    z = np.array([(v - truth) / uu for v, uu in values])
    assert np.sum(np.abs(z) >= 3) / n <= Z3_MAX[r_t]
    assert sum(truth < b for b in limits) <= 1
    if r_t == 8.0:  # resolved: values, and their u the scatter's
        assert len(values) > 0.99 * n
        assert np.std([v for v, _ in values]) == pytest.approx(np.median([uu for _, uu in values]), rel=0.12)


# ------------------------------------------------------------------------------------------------------------
# Tables and printing


def _table(S_rows, u):
    sols = [_solve(S, u) for S in S_rows]
    rows = [db_columns(s.S, s.cov) for s in sols]
    t = {k: np.array([r[k] for r in rows], dtype=object if k.endswith("_kind") else float) for k in rows[0]}
    t["S"] = np.array([s.S for s in sols])
    t["S_cov"] = np.array([s.cov for s in sols])
    return t


def test_table_rows_and_an_archive_written_before_the_kinds():
    u = 5e-7  # S_DOC's Acd at ~12 u (the drives' noise reaches Acd through Add: §3.2, vid known to Vc/CMRR_diff)
    S_low, _ = _acd_at(0.1, u)
    t = _table([S_DOC, S_low], u)
    v, uu, kind = db_figure_rows(t, "CMRR_diff_db")
    assert list(kind) == [VALUE, LOWER_LIMIT] and math.isnan(uu[1]) and uu[0] > 0
    # an older archive: first-order value and u in the columns, no kinds -> decided again from S and S_cov
    old = {k: v for k, v in t.items() if not k.endswith("_kind")}
    old["CMRR_diff_db"] = np.array([figure_functions()["CMRR_diff_db"](S) for S in t["S"]])
    old["CMRR_diff_db_u"] = np.array([4.9, 4.9])
    v2, u2, kind2 = db_figure_rows(old, "CMRR_diff_db")
    assert list(kind2) == [VALUE, LOWER_LIMIT]
    assert v2[1] == v[1] and math.isnan(u2[1]) and v2[0] == old["CMRR_diff_db"][0] and u2[0] == 4.9


def test_printing_a_limit():
    from procedures.report.html.formatting import fmt_db_figure

    assert format_db(118.3, math.nan, LOWER_LIMIT) == ">= 118.3"
    assert format_db(12.5, math.nan, UPPER_LIMIT) == "<= 12.5"
    assert format_db(101.43, 0.0123, VALUE) == "101.4 ± 0.012"
    assert format_db(math.nan, math.nan, NO_VALUE) == "n/a"
    assert fmt_db_figure(118.314, math.nan, LOWER_LIMIT) == "≥ 118.31"
    assert fmt_db_figure(65.75634, 0.00171, VALUE) == "65.7563 ± 0.0017"


def test_cli_summary_and_report_table_print_the_limit():
    from procedures.cli.run import summary_lines
    from procedures.report.html.result_tables import level_cmrr_table
    from procedures.report.plots.cmrr_levels import cmrr_levels

    u = 5e-7
    S_low, _ = _acd_at(0.1, u)
    t = _table([S_DOC, S_low], u)
    t["bias_v"] = np.array([0.0, 0.5])
    t["S_u"] = np.array([np.sqrt(np.diagonal(c)[0::2]).reshape(2, 2) * (1 + 1j) for c in t["S_cov"]])
    rows = [{k: t[k][i] for k in t} for i in range(2)]
    lines = summary_lines("cm_range", {"cm_gains": rows})
    bound = float(t["CMRR_diff_db"][1])
    assert lines[2].rstrip().endswith(f">= {bound:.4g}") and "±" in lines[1]
    assert any(line.startswith(">= x: a lower limit") for line in lines)
    html = level_cmrr_table(t)
    assert f"≥ {bound:.2f}" in html and "a lower limit" in html
    fig = cmrr_levels(t, title="t")
    assert any(line.get_marker() == "^" for line in fig.axes[0].get_lines())


def test_a_gain_in_its_noise_is_an_upper_limit_in_db():
    """|Acd| in dB (the report's gain table and Bode plot): at 0.1 u an upper limit |Acd| + k u, which holds."""
    u = 5e-7
    S_low, sigma = _acd_at(0.1, u)
    sols = [_solve(S, u) for S in (S_DOC, S_low)]
    S = np.array([s.S for s in sols])
    C = np.array([s.cov for s in sols])
    z, mag, u_db, u_deg, kind = gain_db_rows(S, C, "Acd")
    assert list(kind) == [VALUE, UPPER_LIMIT]
    assert mag[0] == pytest.approx(20 * math.log10(abs(S[0, 0, 1]))) and u_db[0] > 0 and u_deg[0] > 0
    sd = math.sqrt(np.linalg.eigvalsh(C[1][2:4, 2:4])[-1])
    assert mag[1] == pytest.approx(20 * math.log10(abs(S[1, 0, 1]) + LIMIT_K * sd))
    assert mag[1] >= 20 * math.log10(abs(S_low[0, 1])) and math.isnan(u_db[1]) and math.isnan(u_deg[1])
