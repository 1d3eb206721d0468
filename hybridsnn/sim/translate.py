"""Translate GeNN 5 code strings (a C99 subset) into typed scalar Python that numba compiles.

The code is parsed by a real C parser (pycparser). Every expression is typed with C rules (see
:mod:`hybridsnn.sim.ctype`) and emitted with explicit conversions, so float code stays float32 in numba.
Identifiers are resolved through a :class:`Scope` the caller fills for the code's context (variables,
parameters, ``t``, ``id`` ...), and context functions such as ``addToPost`` are supplied as
:class:`Function` objects. Anything outside the supported subset raises :class:`TranslationError` naming
the construct, the model and the code field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pycparser import c_ast, c_parser
from pycparser.c_parser import ParseError

from hybridsnn.errors import UserError
from hybridsnn.sim import ctype as ct
from hybridsnn.sim.ctype import CType

_PRELUDE = (
    "typedef float scalar; typedef float timepoint; typedef _Bool bool; typedef signed char int8_t; "
    "typedef unsigned char uint8_t; typedef short int16_t; typedef unsigned short uint16_t; "
    "typedef int int32_t; typedef unsigned int uint32_t; typedef long int64_t; "
    "typedef unsigned long uint64_t; typedef unsigned long size_t; "
)
_DOUBLE_SUFFIX = re.compile(r"(?<![\w.])((?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)[dD](?!\w)")
_LINE_COMMENT = re.compile(r"//[^\n]*")
_INT_SUFFIX = re.compile(r"[uUlL]+$")


class TranslationError(UserError):
    """GeNN code the numba engine cannot translate (syntax error, unsupported construct, unknown name)."""


@dataclass(frozen=True)
class Expr:
    """A translated expression: Python source, its C type, and its value when it is a literal."""

    code: str
    type: CType | None  # None: a void function call
    const: float | int | bool | None = None


@dataclass
class Symbol:
    """A name visible to the code: its Python spelling, C type and whether the code may assign it.

    ``array`` marks a pointer (an extra global parameter) that the code can index.
    """

    py: str
    type: CType
    writable: bool = False
    array: bool = False


@dataclass
class Function:
    """A context function such as ``addToPost(x)`` or ``gennrand_uniform()``.

    ``emit`` gets the translated arguments (already converted to ``arg_types``) and returns an
    expression; ``statement_only`` functions (void) may only be called as a statement. A ``hoisted``
    function's code is a statement with an ``{out}`` placeholder (e.g. ``"s, {out} = draw(s)"``) that the
    translator places just before the statement using its value, so generator state stays in registers.
    """

    arg_types: tuple[CType, ...]
    emit: Callable[[list[str]], Expr]
    statement_only: bool = False
    hoisted: bool = False


@dataclass
class Scope:
    """Names visible to a piece of code, with nested block scopes for local declarations."""

    symbols: dict[str, Symbol] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    parent: Scope | None = None

    def lookup(self, name: str) -> Symbol | None:
        """The innermost symbol called ``name``."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.symbols:
                return scope.symbols[name]
            scope = scope.parent
        return None

    def function(self, name: str) -> Function | None:
        """The innermost context function called ``name``."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.functions:
                return scope.functions[name]
            scope = scope.parent
        return None

    def child(self) -> Scope:
        """A nested block scope."""
        return Scope(parent=self)


# ---------------------------------------------------------------------------------------------------------
# Maths library: C name -> numba spelling (float overloads; the float32 version for float32 arguments)
_FLOAT_FUNCS_1 = {
    "cos": "np.cos", "sin": "np.sin", "tan": "np.tan", "acos": "np.arccos", "asin": "np.arcsin",
    "atan": "np.arctan", "cosh": "np.cosh", "sinh": "np.sinh", "tanh": "np.tanh", "acosh": "np.arccosh",
    "asinh": "np.arcsinh", "atanh": "np.arctanh", "exp": "np.exp", "expm1": "np.expm1", "exp2": "np.exp2",
    "log": "np.log", "log1p": "np.log1p", "log2": "np.log2", "log10": "np.log10", "sqrt": "np.sqrt",
    "cbrt": "np.cbrt", "ceil": "np.ceil", "floor": "np.floor", "trunc": "np.trunc", "rint": "np.rint",
    "nearbyint": "np.rint", "fabs": "np.fabs", "round": "_c_round", "erf": "math.erf", "erfc": "math.erfc",
    "tgamma": "math.gamma", "lgamma": "math.lgamma",
}  # fmt: skip
_FLOAT_FUNCS_2 = {
    "atan2": "np.arctan2", "pow": "np.power", "fmod": "np.fmod", "fmin": "np.fmin", "fmax": "np.fmax",
    "fdim": "_c_fdim", "copysign": "np.copysign", "hypot": "np.hypot", "nextafter": "np.nextafter",
    "remainder": "_c_remainder",
}  # fmt: skip
_FLOAT_FUNCS_3 = {"fma": "_c_fma"}
_FLOAT_INT_FUNCS = {"ldexp": "np.ldexp", "scalbn": "np.ldexp"}
_INT_FUNCS = {"min": "min", "max": "max", "abs": "abs"}
# Functions whose numba result may be float64 even for float32 arguments: converted back explicitly.
_WIDENING = {
    "math.erf",
    "math.erfc",
    "math.gamma",
    "math.lgamma",
    "_c_round",
    "_c_fdim",
    "_c_remainder",
    "_c_fma",
}

UNSUPPORTED_FUNCTIONS = {
    "addToPostDelay": "dendritic delays (addToPostDelay)",
    "gennrand_gamma": "gennrand_gamma()",
    "gennrand_binomial": "gennrand_binomial()",
    "printf": "printf()",
    "assert": "assert()",
}


def _strip(code: str, where: str) -> str:
    if "$(" in code:
        raise TranslationError(
            f"{where}: legacy GeNN 4 '$(...)' syntax is not GeNN 5 code; write names directly"
        )
    if "/*" in code:
        raise TranslationError(f"{where}: block comments '/* */' are not accepted by GeNN 5; use '//'")
    code = _LINE_COMMENT.sub("", code)
    return _DOUBLE_SUFFIX.sub(r"__genn_double(\1)", code)


class Translator:
    """Translates one code string (statements or an expression) of one model field into Python lines.

    ``where`` names the model and code field for error messages, e.g. ``"neuron model 'LIF' sim_code"``.
    ``namer`` makes the Python names of local declarations unique within the generated kernel.
    """

    def __init__(self, where: str, scalar: CType, time: CType, namer: Callable[[str], str]) -> None:
        self.where = where
        self.scalar = scalar
        self.time = time
        self.namer = namer
        self._pending: list[str] = []  # hoisted calls of the statement being translated

    # -- entry points ----------------------------------------------------------------------------------
    def statements(self, code: str, scope: Scope, indent: int = 0, share_scope: bool = False) -> list[str]:
        """Python lines (indented by ``indent`` levels) executing the statements of ``code``.

        With ``share_scope`` the code's top-level declarations go into ``scope`` itself, so later code in
        the same scope sees them (GeNN lets threshold and reset code use locals of the sim code).
        """
        if not code.strip():
            return []
        body = self._parse(code, expression=False)
        return self._block(body, scope if share_scope else scope.child(), indent)

    def expression(self, code: str, scope: Scope) -> tuple[list[str], str]:
        """Lines to run first (hoisted random draws) and the Python source of the boolean expression
        ``code`` (a threshold condition)."""
        node = self._parse(code, expression=True)
        cond = self._bool(self._expr(node, scope))
        return self._flush(0), cond

    # -- parsing ---------------------------------------------------------------------------------------
    def _parse(self, code: str, expression: bool) -> c_ast.Node:
        text = _strip(code, self.where)
        source = _PRELUDE + (
            "void __f(void) { __r = (\n" + text + "\n); }"
            if expression
            else "void __f(void) {\n" + text + "\n}"
        )
        try:
            ast = c_parser.CParser().parse(source, filename="<genn>")
        except ParseError as exc:
            raise TranslationError(f"{self.where}: syntax error: {self._parse_message(str(exc))}") from None
        body = ast.ext[-1].body
        return body.block_items[0].rvalue if expression else body

    @staticmethod
    def _parse_message(message: str) -> str:
        match = re.match(r"<genn>:(\d+):(\d+): (.*)", message)
        if not match:
            return message
        return f"{match.group(3)} (line {int(match.group(1)) - 1})"

    def _error(self, node: c_ast.Node | None, message: str) -> TranslationError:
        line = getattr(getattr(node, "coord", None), "line", None)
        suffix = f" (line {line - 1})" if line else ""
        return TranslationError(f"{self.where}: {message}{suffix}")

    def _unsupported(self, node: c_ast.Node, construct: str) -> TranslationError:
        return self._error(node, f"unsupported construct: {construct}")

    # -- statements ------------------------------------------------------------------------------------
    def _block(self, node: c_ast.Node | None, scope: Scope, indent: int) -> list[str]:
        if node is None:
            return []
        items = (node.block_items or []) if isinstance(node, c_ast.Compound) else [node]
        lines: list[str] = []
        for item in items:
            lines += self._statement(item, scope, indent)
        return lines

    def _body(self, node: c_ast.Node | None, scope: Scope, indent: int) -> list[str]:
        lines = self._block(node, scope.child(), indent)
        return lines or ["    " * indent + "pass"]

    def _flush(self, indent: int) -> list[str]:
        """The hoisted lines collected since the last flush, indented."""
        lines = ["    " * indent + line for line in self._pending]
        self._pending = []
        return lines

    def _cond(self, node: c_ast.Node, scope: Scope, indent: int) -> tuple[list[str], str]:
        cond = self._bool(self._expr(node, scope))
        return self._flush(indent), cond

    def _statement(self, node: c_ast.Node, scope: Scope, indent: int) -> list[str]:
        lines = self._statement_lines(node, scope, indent)
        return self._flush(indent) + lines

    def _statement_lines(self, node: c_ast.Node, scope: Scope, indent: int) -> list[str]:
        pad = "    " * indent
        if isinstance(node, c_ast.Compound):
            return self._block(node, scope.child(), indent)
        if isinstance(node, c_ast.Decl):
            return self._declaration(node, scope, indent)
        if isinstance(node, c_ast.DeclList):
            return [line for decl in node.decls for line in self._declaration(decl, scope, indent)]
        if isinstance(node, c_ast.Assignment):
            return [pad + self._assignment(node, scope)]
        if isinstance(node, c_ast.UnaryOp) and node.op in ("p++", "++", "p--", "--"):
            return [pad + self._increment(node, scope)]
        if isinstance(node, c_ast.FuncCall):
            call = self._call(node, scope, statement=True)
            return [pad + call.code]
        if isinstance(node, c_ast.ExprList):
            return [line for expr in node.exprs for line in self._statement(expr, scope, indent)]
        if isinstance(node, c_ast.If):
            return self._if(node, scope, indent)
        if isinstance(node, c_ast.For):
            return self._for(node, scope, indent)
        if isinstance(node, c_ast.While):
            return self._while(node.cond, node.stmt, [], scope, indent)
        if isinstance(node, c_ast.DoWhile):
            if _has_own_continue(node.stmt):
                raise self._unsupported(node, "'continue' inside a do-while loop")
            body = self._body(node.stmt, scope, indent + 1)
            pre, cond = self._cond(node.cond, scope, indent + 1)
            return [pad + "while True:", *body, *pre, pad + f"    if not {cond}:", pad + "        break"]
        if isinstance(node, c_ast.Break):
            return [pad + "break"]
        if isinstance(node, c_ast.Continue):
            return [pad + "continue"]
        if isinstance(node, c_ast.EmptyStatement):
            return []
        if isinstance(
            node,
            (
                c_ast.ID,
                c_ast.Constant,
                c_ast.BinaryOp,
                c_ast.UnaryOp,
                c_ast.TernaryOp,
                c_ast.Cast,
                c_ast.ArrayRef,
            ),
        ):
            self._expr(node, scope)  # checked for errors; has no effect
            return []
        raise self._unsupported(node, _construct_name(node))

    def _declaration(self, node: c_ast.Decl, scope: Scope, indent: int) -> list[str]:
        if not isinstance(node.type, c_ast.TypeDecl) or not isinstance(node.type.type, c_ast.IdentifierType):
            raise self._unsupported(node, f"declaration of {node.name!r} (only scalar local variables)")
        type_ = ct.resolve(node.type.type.names, self.scalar, self.time)
        if type_ is None:
            raise self._error(node, f"unknown type {' '.join(node.type.type.names)!r}")
        py = self.namer(node.name)
        if node.init is None:
            value = ct.py_literal(0, type_)
        else:
            value = self._convert(self._value(node.init, scope), type_)
        writable = "const" not in (node.quals or [])
        scope.symbols[node.name] = Symbol(py, type_, writable=writable)
        return ["    " * indent + f"{py} = {value}"]

    def _lvalue(self, node: c_ast.Node, scope: Scope) -> tuple[str, CType]:
        if isinstance(node, c_ast.ID):
            sym = scope.lookup(node.name)
            if sym is None:
                raise self._error(node, f"unknown identifier {node.name!r}")
            if not sym.writable or sym.array:
                raise self._error(node, f"{node.name!r} is read-only here and cannot be assigned")
            return sym.py, sym.type
        if isinstance(node, c_ast.ArrayRef):
            target = self._expr(node, scope)
            return target.code, target.type  # type: ignore[return-value]
        raise self._unsupported(node, f"assignment to {_construct_name(node)}")

    def _assignment(self, node: c_ast.Assignment, scope: Scope) -> str:
        target, type_ = self._lvalue(node.lvalue, scope)
        rhs = self._value(node.rvalue, scope)
        if node.op == "=":
            return f"{target} = {self._convert(rhs, type_)}"
        op = node.op[:-1]
        combined = self._binary(op, Expr(target, type_), rhs, node)
        return f"{target} = {self._convert(combined, type_)}"

    def _increment(self, node: c_ast.UnaryOp, scope: Scope) -> str:
        target, type_ = self._lvalue(node.expr, scope)
        op = "+" if "++" in node.op else "-"
        combined = self._binary(op, Expr(target, type_), Expr("1", ct.INT32, 1), node)
        return f"{target} = {self._convert(combined, type_)}"

    def _if(self, node: c_ast.If, scope: Scope, indent: int, keyword: str = "if") -> list[str]:
        pad = "    " * indent
        pre, cond = self._cond(node.cond, scope, indent)
        if keyword == "elif" and pre:  # draws of an else-if condition happen only in the else branch
            return [pad + "else:", *self._if(node, scope, indent + 1)]
        lines = [*pre, pad + f"{keyword} {cond}:", *self._body(node.iftrue, scope, indent + 1)]
        if isinstance(node.iffalse, c_ast.If):
            lines += self._if(node.iffalse, scope, indent, keyword="elif")
        elif node.iffalse is not None:
            lines += [pad + "else:", *self._body(node.iffalse, scope, indent + 1)]
        return lines

    def _while(
        self, cond_node: c_ast.Node | None, body_node: c_ast.Node, after: list[str], scope: Scope, indent: int
    ) -> list[str]:
        """``while cond: body; after`` (the condition re-evaluated, with its draws, every iteration)."""
        pad = "    " * indent
        if cond_node is None:
            pre, cond = [], "True"
        else:
            pre, cond = self._cond(cond_node, scope, indent + 1)
        body = self._body(body_node, scope, indent + 1) + after
        if not pre:
            return [pad + f"while {cond}:", *body]
        return [pad + "while True:", *pre, pad + f"    if not {cond}:", pad + "        break", *body]

    def _for(self, node: c_ast.For, scope: Scope, indent: int) -> list[str]:
        pad = "    " * indent
        inner = scope.child()
        canonical = self._canonical_range(node, inner)
        if canonical is not None:
            var, start, stop = canonical
            return [pad + f"for {var} in range({start}, {stop}):", *self._body(node.stmt, inner, indent + 1)]
        if _has_own_continue(node.stmt):
            raise self._unsupported(node, "'continue' inside a for loop that is not a simple counting loop")
        lines = self._statement(node.init, inner, indent) if node.init is not None else []
        after = self._statement(node.next, inner, indent + 1) if node.next is not None else []
        return lines + self._while(node.cond, node.stmt, after, inner, indent)

    def _canonical_range(self, node: c_ast.For, scope: Scope) -> tuple[str, str, str] | None:
        """``for (T i = a; i < b; i++)`` with ``i`` untouched in the body -> (py name, start, stop)."""
        init = node.init
        decls = init.decls if isinstance(init, c_ast.DeclList) else None
        if not decls or len(decls) != 1 or decls[0].init is None:
            return None
        name = decls[0].name
        cond, nxt = node.cond, node.next
        ok_cond = (
            isinstance(cond, c_ast.BinaryOp)
            and cond.op in ("<", "<=")
            and isinstance(cond.left, c_ast.ID)
            and cond.left.name == name
        )
        ok_next = (
            isinstance(nxt, c_ast.UnaryOp)
            and nxt.op in ("p++", "++")
            and isinstance(nxt.expr, c_ast.ID)
            and nxt.expr.name == name
        )
        if not (ok_cond and ok_next) or name in _assigned_names(node.stmt):
            return None
        start = self._convert(self._value(decls[0].init, scope), ct.INT64)
        stop = self._convert(self._value(cond.right, scope), ct.INT64)
        if self._pending:  # random draws in the bounds: keep C's evaluate-every-iteration semantics
            self._pending = []
            return None
        py = self.namer(name)
        # numba counts in int64; the C type of the counter only matters under overflow
        scope.symbols[name] = Symbol(py, ct.INT64, writable=False)
        return py, start, stop if cond.op == "<" else f"{stop} + 1"

    # -- expressions -----------------------------------------------------------------------------------
    def _value(self, node: c_ast.Node, scope: Scope) -> Expr:
        expr = self._expr(node, scope)
        if expr.type is None:
            raise self._error(node, "a void function call has no value")
        return expr

    def _convert(self, expr: Expr, type_: CType) -> str:
        if expr.const is not None:  # typed literal, so numba never widens the variable it is stored in
            return ct.py_literal(self._const_as(expr, type_), type_)
        return ct.cast(expr.code, expr.type, type_)  # type: ignore[arg-type]

    def _const_as(self, expr: Expr, type_: CType) -> float | int | bool:
        value = expr.const
        if type_.is_float:
            return ct.nearest_float(value, type_) if not isinstance(value, bool) else float(value)
        if type_ == ct.BOOL:
            return bool(value)
        bits = type_.bits
        v = int(value)  # C truncation toward zero
        if not type_.signed:
            return v % (1 << bits)
        v %= 1 << bits
        return v - (1 << bits) if v >= 1 << (bits - 1) else v

    def _bool(self, expr: Expr) -> str:
        if expr.type is None:
            raise TranslationError(f"{self.where}: a void function call has no value")
        return expr.code if expr.type == ct.BOOL else f"({expr.code} != 0)"

    def _operand(self, expr: Expr, type_: CType) -> str:
        return self._convert(expr, type_)

    def _binary(self, op: str, left: Expr, right: Expr, node: c_ast.Node) -> Expr:
        if left.type is None or right.type is None:
            raise self._error(node, "a void function call has no value")
        if op in ("&&", "||"):
            word = "and" if op == "&&" else "or"
            return Expr(f"({self._bool(left)} {word} {self._bool(right)})", ct.BOOL)
        if op in ("<<", ">>"):
            if not (left.type.is_int or left.type == ct.BOOL) or not (
                right.type.is_int or right.type == ct.BOOL
            ):
                raise self._error(node, f"operator {op!r} needs integer operands")
            t = ct.unary_type(left.type)
            return Expr(f"np.{t.name}({self._operand(left, t)} {op} {self._operand(right, t)})", t)
        t = ct.common_type(left.type, right.type)
        a, b = self._operand(left, t), self._operand(right, t)
        if op in ("<", ">", "<=", ">=", "==", "!="):
            return Expr(f"({a} {op} {b})", ct.BOOL)
        if op in ("&", "|", "^"):
            if t.is_float:
                raise self._error(node, f"operator {op!r} needs integer operands")
            return Expr(f"np.{t.name}({a} {op} {b})", t)
        if op == "%":
            if t.is_float:
                raise self._error(node, "operator '%' needs integer operands (use fmod)")
            return Expr(f"np.{t.name}(_c_mod({a}, {b}))" if t.signed else f"np.{t.name}({a} % {b})", t)
        if op == "/" and not t.is_float:
            return Expr(f"np.{t.name}(_c_div({a}, {b}))" if t.signed else f"np.{t.name}({a} // {b})", t)
        if op in ("+", "-", "*", "/"):
            code = f"({a} {op} {b})"
            return Expr(code if t.is_float else f"np.{t.name}{code}", t)
        raise self._unsupported(node, f"operator {op!r}")

    def _expr(self, node: c_ast.Node, scope: Scope) -> Expr:
        if isinstance(node, c_ast.Constant):
            return self._constant(node)
        if isinstance(node, c_ast.ID):
            if node.name in ("true", "false"):
                return Expr("True" if node.name == "true" else "False", ct.BOOL, node.name == "true")
            sym = scope.lookup(node.name)
            if sym is None:
                raise self._error(node, f"unknown identifier {node.name!r}")
            if sym.array:
                raise self._error(node, f"{node.name!r} is an array; index it like {node.name}[i]")
            return Expr(sym.py, sym.type)
        if isinstance(node, c_ast.BinaryOp):
            return self._binary(node.op, self._value(node.left, scope), self._value(node.right, scope), node)
        if isinstance(node, c_ast.UnaryOp):
            return self._unary(node, scope)
        if isinstance(node, c_ast.TernaryOp):
            cond = self._bool(self._value(node.cond, scope))
            a, b = self._value(node.iftrue, scope), self._value(node.iffalse, scope)
            t = ct.common_type(a.type, b.type)  # type: ignore[arg-type]
            return Expr(f"({self._convert(a, t)} if {cond} else {self._convert(b, t)})", t)
        if isinstance(node, c_ast.Cast):
            type_node = node.to_type.type
            if not isinstance(type_node, c_ast.TypeDecl) or not isinstance(
                type_node.type, c_ast.IdentifierType
            ):
                raise self._unsupported(node, "cast to a non-numeric type")
            t = ct.resolve(type_node.type.names, self.scalar, self.time)
            if t is None:
                raise self._error(node, f"unknown type {' '.join(type_node.type.names)!r}")
            inner = self._value(node.expr, scope)
            if inner.const is not None:
                value = self._const_as(inner, t)
                return Expr(ct.py_literal(value, t), t, value)
            return Expr(self._convert(inner, t), t)
        if isinstance(node, c_ast.ArrayRef):
            if not isinstance(node.name, c_ast.ID):
                raise self._unsupported(node, "indexing of an expression")
            sym = scope.lookup(node.name.name)
            if sym is None:
                raise self._error(node, f"unknown identifier {node.name.name!r}")
            if not sym.array:
                raise self._error(node, f"{node.name.name!r} is not an array and cannot be indexed")
            index = self._value(node.subscript, scope)
            if index.type is None or index.type.is_float:
                raise self._error(node, "array index must be an integer")
            return Expr(f"{sym.py}[{index.code}]", sym.type)
        if isinstance(node, c_ast.FuncCall):
            return self._call(node, scope, statement=False)
        if isinstance(node, c_ast.Assignment):
            raise self._unsupported(node, "assignment inside an expression")
        raise self._unsupported(node, _construct_name(node))

    def _constant(self, node: c_ast.Constant) -> Expr:
        text = node.value
        if node.type in ("char", "string") or text.startswith(("'", '"')):
            raise self._unsupported(node, f"{node.type} literal {text}")
        if node.type in ("float", "double", "long double"):
            if text.lower().startswith("0x"):
                raise self._unsupported(node, f"hexadecimal float literal {text}")
            if text[-1] in "lL":
                raise self._unsupported(node, f"long double literal {text}")
            t = ct.FLOAT32 if text[-1] in "fF" else self.scalar
            value = ct.nearest_float(text.rstrip("fF"), t)
            return Expr(ct.py_literal(value, t), t, value)
        digits = _INT_SUFFIX.sub("", text)
        if len(digits) > 1 and digits.startswith("0") and not digits.lower().startswith("0x"):
            raise self._unsupported(node, f"octal literal {text}")
        value = int(digits, 0)
        suffix = text[len(digits) :].lower()
        if "l" in suffix:
            t = ct.UINT64 if "u" in suffix else ct.INT64
        elif "u" in suffix:
            t = ct.UINT32 if value < 1 << 32 else ct.UINT64
        else:
            t = ct.INT32 if value < 1 << 31 else ct.INT64
        return Expr(str(value), t, value)

    def _unary(self, node: c_ast.UnaryOp, scope: Scope) -> Expr:
        op = node.op
        if op in ("p++", "++", "p--", "--"):
            raise self._unsupported(node, f"'{op.lstrip('p')}' inside an expression (use it as a statement)")
        if op in ("&", "*", "sizeof"):
            raise self._unsupported(
                node, {"&": "address-of operator '&'", "*": "pointer dereference '*'", "sizeof": "sizeof"}[op]
            )
        inner = self._value(node.expr, scope)
        if op == "!":
            return Expr(f"(not {self._bool(inner)})", ct.BOOL)
        t = ct.unary_type(inner.type)  # type: ignore[arg-type]
        if op == "-":
            if inner.const is not None:
                value = self._const_as(Expr("", t, -self._const_as(inner, t)), t)
                return Expr(ct.py_literal(value, t), t, value)
            negated = f"(-{self._convert(inner, t)})"
            return Expr(negated if t.is_float else f"np.{t.name}{negated}", t)
        if op == "+":
            return Expr(self._convert(inner, t), t, inner.const)
        if op == "~":
            if t.is_float:
                raise self._error(node, "operator '~' needs an integer operand")
            return Expr(f"np.{t.name}(~{self._convert(inner, t)})", t)
        raise self._unsupported(node, f"operator {op!r}")

    def _call(self, node: c_ast.FuncCall, scope: Scope, statement: bool) -> Expr:
        if not isinstance(node.name, c_ast.ID):
            raise self._unsupported(node, "call through an expression")
        name = node.name.name
        if name == "__genn_double":  # a literal with GeNN's 'd' suffix, e.g. 1.5d
            value = ct.nearest_float(node.args.exprs[0].value, ct.FLOAT64)
            return Expr(ct.py_literal(value, ct.FLOAT64), ct.FLOAT64, value)
        args = [self._value(a, scope) for a in (node.args.exprs if node.args is not None else [])]
        func = scope.function(name)
        if func is not None:
            if len(args) != len(func.arg_types):
                raise self._error(node, f"{name}() takes {len(func.arg_types)} argument(s), got {len(args)}")
            if func.statement_only and not statement:
                raise self._unsupported(node, f"{name}() inside an expression")
            expr = func.emit([self._convert(a, t) for a, t in zip(args, func.arg_types, strict=True)])
            if func.hoisted:
                out = self.namer("rand")
                self._pending.append(expr.code.format(out=out))
                return Expr(out, expr.type)
            return expr
        if name in UNSUPPORTED_FUNCTIONS:
            raise self._unsupported(node, UNSUPPORTED_FUNCTIONS[name])
        return self._maths(node, name, args)

    def _maths(self, node: c_ast.Node, name: str, args: list[Expr]) -> Expr:
        table = {1: _FLOAT_FUNCS_1, 2: _FLOAT_FUNCS_2, 3: _FLOAT_FUNCS_3}.get(len(args), {})
        if name in _INT_FUNCS:
            if any(a.type.is_float for a in args):  # type: ignore[union-attr]
                raise self._error(node, f"{name}() takes integers; use f{name}() for floating point")
            expected = 1 if name == "abs" else 2
            if len(args) != expected:
                raise self._error(node, f"{name}() takes {expected} argument(s), got {len(args)}")
            t = args[0].type if len(args) == 1 else ct.common_type(args[0].type, args[1].type)  # type: ignore[arg-type]
            t = ct.unary_type(t)
            return Expr(f"np.{t.name}({_INT_FUNCS[name]}({', '.join(self._convert(a, t) for a in args)}))", t)
        if name in _FLOAT_INT_FUNCS and len(args) == 2:
            t = ct.FLOAT64 if args[0].type == ct.FLOAT64 else ct.FLOAT32
            return Expr(
                f"{_FLOAT_INT_FUNCS[name]}({self._convert(args[0], t)}, {self._convert(args[1], ct.INT32)})",
                t,
            )
        if name not in table:
            known = (
                name in _FLOAT_FUNCS_1
                or name in _FLOAT_FUNCS_2
                or name in _FLOAT_FUNCS_3
                or name in _FLOAT_INT_FUNCS
            )
            if known:
                raise self._error(node, f"{name}() called with {len(args)} argument(s)")
            raise self._error(node, f"unknown function {name!r}")
        t = ct.FLOAT64 if any(a.type == ct.FLOAT64 for a in args) else ct.FLOAT32
        py = table[name]
        code = f"{py}({', '.join(self._convert(a, t) for a in args)})"
        if py in _WIDENING:
            code = f"np.{t.name}({code})"
        return Expr(code, t)


# ---------------------------------------------------------------------------------------------------------
# AST queries
def _walk(node: c_ast.Node | None) -> Iterator[c_ast.Node]:
    if node is None:
        return
    yield node
    for _, child in node.children():
        yield from _walk(child)


def _has_own_continue(node: c_ast.Node | None) -> bool:
    """True if ``node`` contains a ``continue`` that belongs to the enclosing loop (not a nested one)."""
    if node is None:
        return False
    if isinstance(node, c_ast.Continue):
        return True
    if isinstance(node, (c_ast.For, c_ast.While, c_ast.DoWhile)):
        return False
    return any(_has_own_continue(child) for _, child in node.children())


def _assigned_names(node: c_ast.Node | None) -> set[str]:
    names = set()
    for n in _walk(node):
        target = None
        if isinstance(n, c_ast.Assignment):
            target = n.lvalue
        elif isinstance(n, c_ast.UnaryOp) and n.op in ("p++", "++", "p--", "--"):
            target = n.expr
        if isinstance(target, c_ast.ID):
            names.add(target.name)
    return names


def _construct_name(node: c_ast.Node) -> str:
    names = {
        "Switch": "'switch' statement", "Case": "'case' label", "Default": "'default' label",
        "Goto": "'goto'", "Label": "label", "Return": "'return'", "StructRef": "struct member access",
        "CompoundLiteral": "compound literal", "FuncDef": "function definition", "Typedef": "typedef",
        "InitList": "initialiser list", "Pragma": "#pragma", "StaticAssert": "static assertion",
    }  # fmt: skip
    return names.get(type(node).__name__, type(node).__name__)


@dataclass(frozen=True)
class CodeUse:
    """Identifiers a code string reads, assigns and calls (before scope resolution)."""

    names: frozenset[str]
    assigned: frozenset[str]
    calls: frozenset[str]


def code_use(code: str, expression: bool = False) -> CodeUse:
    """Which identifiers ``code`` mentions, assigns and calls; empty for empty code.

    Used by the kernel generator to load only the variables a model touches. Syntax errors surface later,
    with context, when the code is translated.
    """
    if not code.strip():
        return CodeUse(frozenset(), frozenset(), frozenset())
    text = _strip(code, "code")
    source = _PRELUDE + (
        "void __f(void) { __r = (\n" + text + "\n); }" if expression else "void __f(void) {\n" + text + "\n}"
    )
    try:
        body = c_parser.CParser().parse(source, filename="<genn>").ext[-1].body
    except ParseError:
        return CodeUse(frozenset(), frozenset(), frozenset())
    names, calls = set(), set()
    for n in _walk(body):
        if isinstance(n, c_ast.ID):
            names.add(n.name)
        elif isinstance(n, c_ast.FuncCall) and isinstance(n.name, c_ast.ID):
            calls.add(n.name.name)
    return CodeUse(frozenset(names - calls), frozenset(_assigned_names(body)), frozenset(calls))
