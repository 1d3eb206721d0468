"""GeNN code -> Python translator: each construct against hand-computed C results.

The translated lines run in plain Python (numpy scalars keep C's float32/int semantics), so these tests
need no numba compilation.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal, localcontext

import numpy as np
import pytest

from hybridsnn.sim import ctype as ct
from hybridsnn.sim.kernel import HELPERS, random_functions
from hybridsnn.sim.translate import Scope, Symbol, TranslationError, Translator, code_use

TYPES = {t.name: t for t in (ct.BOOL, ct.INT32, ct.UINT32, ct.FLOAT32, ct.FLOAT64)}
_PLAIN_HELPERS = HELPERS.replace("from numba import njit\n", "njit = lambda *a, **k: (lambda f: f)\n")
assert _PLAIN_HELPERS != HELPERS, "the numba import of the kernel library changed"


def run(code: str, scalar: ct.CType = ct.FLOAT32, **values: object) -> dict[str, object]:
    """Translate ``code`` with the given variables (writable, typed by their numpy type) and run it."""
    counter = itertools.count()
    tr = Translator("neuron model 'M' sim_code", scalar, scalar, lambda n: f"_t{next(counter)}_{n}")
    scope = Scope()
    namespace: dict[str, object] = {}
    exec(_PLAIN_HELPERS, namespace)
    for name, value in values.items():
        type_ = TYPES[np.asarray(value).dtype.name]
        scope.symbols[name] = Symbol(f"v_{name}", type_, writable=True)
        namespace[f"v_{name}"] = value
    scope.symbols["dt"] = Symbol(ct.py_literal(0.5, scalar), scalar)
    scope.symbols["Tau"] = Symbol(ct.py_literal(ct.param_literal(20.0, scalar), scalar), scalar)
    scope.functions.update(random_functions("rs", scalar))
    namespace["rs"] = np.uint64(88172645463325252)
    lines = tr.statements(code, scope)
    with np.errstate(over="ignore"):  # C wrap-around of unsigned and generator arithmetic
        exec("\n".join(lines), namespace)
    return {name: namespace[f"v_{name}"] for name in values}


def f32(x: float) -> np.float32:
    return np.float32(x)


def test_float_arithmetic_stays_float32():
    out = run("x = x / 11.0 * dt + 0.1;", x=f32(2.9))
    expected = f32(f32(f32(2.9) / f32(11.0)) * f32(0.5)) + f32(0.1)
    assert out["x"].dtype == np.float32 and out["x"] == expected
    assert out["x"] != np.float32(float(f32(2.9)) / 11.0 * 0.5 + float(f32(0.1)))  # float64 differs


def test_double_precision_and_d_suffix():
    out = run("x = x / 3.0;", scalar=ct.FLOAT64, x=1.0)
    assert out["x"] == 1.0 / 3.0
    out = run("x = x + 0.1d;", x=f32(1.0))  # double literal promotes, result stored back as float
    assert out["x"] == np.float32(1.0 + 0.1)


def test_literals_round_like_a_c_compiler():
    assert ct.nearest_float("0.1", ct.FLOAT32) == float(np.float32(0.1))
    # 1 + 2^-24 + 2^-60 lies just above a float32 halfway point: correct rounding goes up, while
    # rounding through float64 first (which drops the 2^-60) would tie to even and go down
    with localcontext() as ctx:
        ctx.prec = 40
        text = str(Decimal(1) + Decimal(2) ** -24 + Decimal(2) ** -60)
    assert float(np.float32(float(text))) == 1.0
    assert ct.nearest_float(text, ct.FLOAT32) == float(np.nextafter(np.float32(1), np.float32(2)))
    assert ct.param_literal(1e-4, ct.FLOAT32) == float(np.float32(1e-4))


def test_integer_division_and_remainder_truncate_toward_zero():
    out = run(
        "a = -7 / 2; b = -7 % 2; c = 7 / -2; d = u / 2u;",
        a=np.int32(0),
        b=np.int32(0),
        c=np.int32(0),
        d=np.uint32(0),
        u=np.uint32(9),
    )
    assert (out["a"], out["b"], out["c"], out["d"]) == (-3, -1, -3, 4)


def test_mixed_int_float_converts_int_to_float():
    out = run("x = n / 2 + n * 0.5;", x=f32(0.0), n=np.int32(3))
    assert out["x"] == f32(1.0) + f32(1.5)  # 3/2 is integer division (1)


def test_compound_assignments_and_increments():
    out = run(
        "x += 2.0; x -= 0.5; x *= 3.0; x /= 2.0; c++; ++c; c--; u--;",
        x=f32(1.0),
        c=np.int32(5),
        u=np.uint32(0),
    )
    assert out["x"] == f32(3.75) and out["c"] == 6
    assert out["u"] == np.uint32(4294967295)  # unsigned wrap-around like C


def test_if_else_if_chain():
    code = "if (x > 2.0) { y = 1.0; } else if (x > 1.0) { y = 2.0; } else { y = 3.0; }"
    assert [run(code, x=f32(v), y=f32(0))["y"] for v in (3.0, 1.5, 0.0)] == [1.0, 2.0, 3.0]


def test_ternary_logic_and_comparisons():
    code = "y = (x > 1.0 && !(x >= 5.0)) || x == -1.0 ? 1.0 : 0.0; b = x != 2.0;"
    values = [run(code, x=f32(v), y=f32(9), b=np.bool_(False)) for v in (2.0, 6.0, -1.0, 0.0)]
    assert [v["y"] for v in values] == [1.0, 0.0, 1.0, 0.0]
    assert [bool(v["b"]) for v in values] == [False, True, True, True]


def test_loops_break_continue():
    code = """
        for (int i = 0; i < 10; i++) {
            if (i == 2) { continue; }
            if (i == 5) { break; }
            s += i;
        }
        for (unsigned int k = 3; k != 0; k--) { p += k; }
        while (w < 100) { w *= 3; }
        do { d -= 1; } while (d > 0);
    """
    out = run(code, s=np.int32(0), p=np.int32(0), w=np.int32(1), d=np.int32(-5))
    assert (out["s"], out["p"], out["w"], out["d"]) == (0 + 1 + 3 + 4, 6, 243, -6)


def test_local_declarations_shadowing_and_casts():
    code = """
        const scalar half = 0.5;
        int n = (int)2.7;
        scalar dt = 4.0;      // shadows the built-in dt, like GeNN's STDP model does
        x = dt * half + n + (float)(n / 2);
    """
    assert run(code, x=f32(0))["x"] == f32(2.0 + 2 + 1)


def test_math_functions():
    code = "a = fmin(x, 1.0); b = fmax(x, 3.0); c = exp(-x); d = fabs(-x); e = round(2.5); f = pow(x, 2.0);"
    out = run(code, x=f32(2.0), a=f32(0), b=f32(0), c=f32(0), d=f32(0), e=f32(0), f=f32(0))
    assert (out["a"], out["b"], out["d"], out["e"], out["f"]) == (1.0, 3.0, 2.0, 3.0, 4.0)
    assert out["c"] == np.exp(np.float32(-2.0)) and out["c"].dtype == np.float32


def test_random_draws_are_uniform_and_only_in_taken_branches():
    code = "if (flag) { n += 0; } else if (gennrand_uniform() < 0.25) { n += 1; }"
    hits = 0
    counter = itertools.count()
    tr = Translator("w", ct.FLOAT32, ct.FLOAT32, lambda n: f"_t{next(counter)}_{n}")
    scope = Scope(
        symbols={"flag": Symbol("flag", ct.BOOL), "n": Symbol("n", ct.INT32, writable=True)},
        functions=random_functions("rs", ct.FLOAT32),
    )
    lines = tr.statements(code, scope)
    assert any("else:" in line for line in lines)  # the draw sits inside the else branch
    namespace: dict[str, object] = {"flag": False, "n": np.int32(0), "rs": np.uint64(12345)}
    exec(_PLAIN_HELPERS, namespace)
    body = "\n".join(["for _ in range(20000):", *("    " + line for line in lines)])
    with np.errstate(over="ignore"):
        exec(body, namespace)
    hits = int(namespace["n"])
    assert abs(hits - 5000) < 4 * np.sqrt(20000 * 0.25 * 0.75)


def test_code_use_lists_names_assignments_and_calls():
    use = code_use("V += Isyn * dt; if (V > th) { addToPost(g); }")
    assert (
        {"V", "Isyn", "dt", "th", "g"} <= use.names and use.assigned == {"V"} and use.calls == {"addToPost"}
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("switch (x) { case 1: x = 2; }", "unsupported construct: 'switch' statement"),
        ("x = foo(1.0);", "unknown function 'foo'"),
        ("x = $(V);", "legacy GeNN 4"),
        ("/* c */ x = 1.0;", "block comments"),
        ("x = 1.0 +;", "syntax error"),
        ("x = (x += 1.0);", "assignment inside an expression"),
        ("x = x++ + 1.0;", "'++' inside an expression"),
        ("Tau = 2.0;", "'Tau' is read-only"),
        ("x = 1.5 % 2.0;", "operator '%' needs integer operands"),
        ("return;", "'return'"),
        ("x = addToPostDelay(x, 2);", "dendritic delays"),
    ],
)
def test_unsupported_code_is_a_clear_error(code: str, message: str):
    with pytest.raises(TranslationError, match="neuron model 'M' sim_code") as info:
        run(code, x=f32(0))
    assert message in str(info.value)


def test_error_names_the_line():
    with pytest.raises(TranslationError, match=r"unknown identifier 'DT' \(line 3\)"):
        run("x = 1.0;\nx = 2.0;\nx = DT;", x=f32(0))


def test_pointer_syntax_is_rejected():
    with pytest.raises(TranslationError, match="pointer dereference"):
        run("x = *x;", x=f32(0))
    with pytest.raises(TranslationError, match="address-of"):
        run("x = &x;", x=f32(0))


def test_every_genn_random_function_draws_from_its_helper_in_order():
    code = "u = gennrand(); a = gennrand_uniform(); b = gennrand_normal(); c = gennrand_exponential(); " \
           "d = gennrand_log_normal(0.5, 2.0);"  # fmt: skip
    out = run(code, u=np.uint32(0), a=f32(0), b=f32(0), c=f32(0), d=f32(0))
    helpers: dict[str, object] = {}
    exec(_PLAIN_HELPERS, helpers)
    s = np.uint64(88172645463325252)  # the state run() starts from
    with np.errstate(over="ignore"):
        s, u = helpers["_rand_u32"](s)
        s, a = helpers["_rand_uniform_float32"](s)
        s, b = helpers["_rand_normal_float32"](s)
        s, c = helpers["_rand_exponential_float32"](s)
        s, d = helpers["_rand_log_normal_float32"](s, f32(0.5), f32(2.0))
    assert out["u"].dtype == np.uint32 and out["u"] == u
    assert all(out[k].dtype == np.float32 for k in "abcd")
    assert (out["a"], out["b"], out["c"], out["d"]) == (a, b, c, d)
    assert len({float(a), float(b), float(c), float(d)}) == 4  # four different draws


def test_random_helpers_have_the_documented_distributions():
    helpers: dict[str, object] = {}
    exec(_PLAIN_HELPERS, helpers)
    s, draws = np.uint64(12345), {k: [] for k in ("u32", "normal", "exponential", "log_normal")}
    with np.errstate(over="ignore"):
        for _ in range(4000):
            s, v = helpers["_rand_u32"](s)
            draws["u32"].append(int(v))
            s, v = helpers["_rand_normal_float64"](s)
            draws["normal"].append(v)
            s, v = helpers["_rand_exponential_float64"](s)
            draws["exponential"].append(v)
            s, v = helpers["_rand_log_normal_float64"](s, 1.0, 0.5)
            draws["log_normal"].append(v)
    d = {k: np.array(v, float) for k, v in draws.items()}
    n = 4000
    assert abs(d["u32"].mean() / 2**32 - 0.5) < 4 * math.sqrt(1 / 12 / n) and d["u32"].max() < 2**32
    assert abs(d["normal"].mean()) < 4 / math.sqrt(n) and abs(d["normal"].std() - 1) < 0.05
    assert abs(d["exponential"].mean() - 1) < 4 / math.sqrt(n) and d["exponential"].min() >= 0
    assert abs(np.log(d["log_normal"]).mean() - 1.0) < 4 * 0.5 / math.sqrt(n)
    assert abs(np.log(d["log_normal"]).std() - 0.5) < 0.03


def test_literals_bit_operators_and_counting_loops_by_hand():
    code = """
        b = true; c = false; le = x <= 2.0;
        n = 0x1F + 8 + 0X2;                   // hex literals (octal ones are refused, as ambiguous)
        m = (1 << 4) | 3; k = m >> 1; inv = ~m; bits = (m & 6) ^ 1;
        for (int i = 0; i <= 3; i++) { s += i; }
        for (int i = 0; i < 3; i++) { t += i; }
        a = abs(-4), y = ldexp(1.5, 2);      // a comma expression as a statement
        w = 2147483648u;                      // converted to int: wraps to INT_MIN like GCC
        f = 0.1f;                             // a float literal, even where scalar is double
    """
    ints = dict.fromkeys(("n", "m", "k", "inv", "bits", "s", "t", "a", "w"), np.int32(0))
    out = run(code, scalar=ct.FLOAT64, x=2.0, y=0.0, f=0.0, b=np.bool_(False), c=np.bool_(True),
              le=np.bool_(False), **ints)  # fmt: skip
    assert (bool(out["b"]), bool(out["c"]), bool(out["le"])) == (True, False, True)
    assert (out["n"], out["m"], out["k"], out["inv"], out["bits"]) == (41, 19, 9, -20, 3)
    assert (out["s"], out["t"], out["a"], out["y"], out["w"]) == (6, 3, 4, 6.0, -(2**31))
    assert out["f"] == float(np.float32(0.1)) != 0.1


def test_while_condition_with_a_draw_is_evaluated_every_iteration():
    # the condition holds a random draw, so it is hoisted into the loop body (while True / if not: break)
    out = run("while (gennrand_uniform() < 0.999) { n += 1; } m = 1;", n=np.int32(0), m=np.int32(0))
    assert out["n"] > 100 and out["m"] == 1  # ~1000 iterations on average, then the code goes on
    with pytest.raises(TranslationError, match="'continue' inside a do-while loop"):
        run("do { n += 1; if (n < 3) { continue; } } while (n < 5);", n=np.int32(0))
