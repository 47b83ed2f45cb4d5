"""RFC 9457 problem details, and the strict JSON body parser that raises them.

Every error the HTTP edge answers with is a :class:`Problem`, serialised as
``application/problem+json``::

    {"type": "https://gavel.dev/problems/auction_closed", "title": "Auction closed",
     "status": 409, "detail": "the auction ended at ...", "code": "auction_closed"}

``code`` is the machine-readable reason: an :class:`engine.reasons.Reason` value for an
auction rule rejection (:func:`problem_from_reason`; :func:`problem_from_rejection` adds
the ``bound`` member of a refused amount) or a :class:`Code` of the edge itself
(:func:`problem`). The two sets never overlap (a test checks), so a client switches on
``code`` alone; ``type`` is the same information as a URI, as the RFC wants.

Why an absolute ``type`` URI (``https://gavel.dev/problems/<code>``) and not a relative
``/problems/<code>``: RFC 9457 §3.1.1 resolves a relative reference against the request
URI, notes that relative references "might not be handled correctly by all
implementations" and recommends absolute ones. The URI is an identifier; clients must
not need to fetch it (RFC 9457 §3.1.1 says they SHOULD NOT dereference it automatically).

Call order in a route: validate the media type (:func:`require_json`) → parse the body
(:func:`parse_body`) → run the command; any step raises :class:`ProblemError`, and the
app's error handler (:func:`problem_error_handler`, registered for ``ProblemError``)
turns it into the response with :func:`to_response`. The ``api.http.idempotency`` errors
subclass ``ProblemError`` too; the refusals of layers below HTTP (``api.access``'s
``Refused``, the node's ``NotReady``) carry a :class:`Code` instead, and
:mod:`api.http.errors` answers them with the problem it names.

The exceptions of this module::

    ProblemError                     a request is answered with a problem (.problem)
    └── (subclassed by api.http.idempotency's refusals)

Misuse (a ``Problem`` with a non-error status, an extension member that shadows a
standard one, a schema type :func:`parse_body` cannot read) raises ``ValueError`` or
``TypeError`` at construction: that is a bug in our code, not in a request.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Protocol, TypeVar, Union

from sanic.request import Request
from sanic.response import HTTPResponse

from contracts.bounds import Bound
from contracts.codes import Code
from contracts.decimal import PlainDecimalError, parse_plain
from contracts.messages import bound_member
from contracts.rules_json import RulesError, rules_from_json
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.rules import AuctionRules

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_INT",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "Code",
    "Problem",
    "ProblemError",
    "parse_body",
    "parse_object",
    "parse_rules",
    "problem",
    "problem_error_handler",
    "problem_from_reason",
    "problem_from_rejection",
    "query_int",
    "require_json",
    "rules_field",
    "to_response",
]

#: The media type of every problem response (RFC 9457 §3).
PROBLEM_MEDIA_TYPE = "application/problem+json"

#: ``type`` is this plus the code: an absolute URI, see the module docstring.
PROBLEM_TYPE_BASE = "https://gavel.dev/problems/"

#: Default body size limit of :func:`parse_body`: commands are small JSON objects.
MAX_BODY_BYTES = 64 * 1024

#: Largest integer :func:`parse_body` accepts: JavaScript's ``Number.MAX_SAFE_INTEGER``,
#: so a browser reads back exactly what it sent (the engine keeps times and minor-unit
#: amounts below 2**53 for the same reason).
MAX_INT = 2**53 - 1

# Members a problem object defines itself; ``extra`` may not shadow them.
_STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code"})


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One RFC 9457 problem: what the client gets instead of the result it asked for.

    ``extra`` holds extension members (``field``, ``pointer``, …) and must be JSON
    serialisable; ``retry_after`` (whole seconds) becomes a ``Retry-After`` header and
    ``headers`` any other response header (``Allow``, ``WWW-Authenticate``). Neither of
    those two is part of the body. Mappings are copied into read-only views, and are
    left out of the hash (so ``hash`` works; equality still compares them).
    """

    status: int
    code: str
    title: str
    detail: str
    instance: str | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=_empty, hash=False)
    retry_after: int | None = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=_empty, hash=False)

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"a problem has a 4xx or 5xx status, not {self.status}")
        if not self.code:
            raise ValueError("a problem needs a code")
        shadowed = _STANDARD_MEMBERS.intersection(self.extra)
        if shadowed:
            raise ValueError(f"extension members shadow standard ones: {sorted(shadowed)}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        # Fail where the problem is built, not later when the error handler serialises it.
        json.dumps(dict(self.extra))
        object.__setattr__(self, "extra", _frozen(self.extra))
        object.__setattr__(self, "headers", _frozen(self.headers))

    @property
    def type(self) -> str:
        """The problem type URI: :data:`PROBLEM_TYPE_BASE` followed by the code."""
        return PROBLEM_TYPE_BASE + self.code

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, standard members first, then ``code``, then extensions."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.instance is not None:
            body["instance"] = self.instance
        body["code"] = self.code
        body.update(sorted(self.extra.items()))
        return body

    def to_json(self) -> bytes:
        """The body bytes: UTF-8, compact, in :meth:`to_dict` order. Deterministic, so a
        stored idempotent replay is byte-identical to the first answer. O(size)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()


class ProblemError(Exception):
    """Raised by a handler (or by the edge modules) to answer with ``problem``."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.status} {problem.code}: {problem.detail}")
        self.problem = problem


def problem(
    code: Code,
    detail: str,
    *,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Problem:
    """A problem for one of the edge's own codes, with its status and title. O(1).

    >>> problem(Code.NOT_FOUND, "no auction 'a-1'").status
    404
    """
    return Problem(
        status=code.status,
        code=code.value,
        title=code.summary,
        detail=detail,
        instance=instance,
        extra=_frozen(extra),
        retry_after=retry_after,
        headers=_frozen(headers),
    )


def problem_from_reason(
    reason: Reason,
    detail: str,
    *,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Problem:
    """A problem for an engine rejection: status from ``reason.status_hint``. O(1).

    >>> p = problem_from_reason(Reason.AUCTION_CLOSED, "too late")
    >>> (p.status, p.code, p.title)
    (409, 'auction_closed', 'Auction closed')
    """
    return Problem(
        status=reason.status_hint,
        code=reason.value,
        title=reason.value.replace("_", " ").capitalize(),
        detail=detail,
        instance=instance,
        extra=_frozen(extra),
    )


def problem_from_rejection(
    rejected: CommandRejected, *, extra: Mapping[str, Any] | None = None
) -> Problem:
    """The problem for the engine's ``rejected``: :func:`problem_from_reason` with its
    detail (an amount in major units and currency, ``"at least 1150.00 EUR"``) and, when
    it names an amount, the extension member ``bound`` with the same amount for machines
    (:func:`contracts.messages.bound_member`: ``kind``, ``amount``, ``amount_minor``,
    ``currency``), as the websocket's ``reject`` carries it. O(1).
    """
    members = dict(extra or {})
    bound = bound_member(rejected.bound)
    if bound is not None:
        members["bound"] = bound
    detail = rejected.detail or rejected.reason.value.replace("_", " ")
    return problem_from_reason(rejected.reason, detail, extra=members)


def to_response(problem: Problem) -> HTTPResponse:
    """The Sanic response for ``problem``: its status, body, ``Retry-After`` and headers.

    ``Retry-After`` is sent whenever ``problem.retry_after`` is set; the edge sets it for
    429 and 503 (RFC 9110 §10.2.3 defines it for those, and for 3xx).
    """
    headers = dict(problem.headers)
    if problem.retry_after is not None:
        headers["Retry-After"] = str(problem.retry_after)
    return HTTPResponse(
        problem.to_json(), status=problem.status, headers=headers, content_type=PROBLEM_MEDIA_TYPE
    )


def problem_error_handler(request: Request, exception: Exception) -> HTTPResponse:
    """Sanic error handler: ``app.error_handler.add(ProblemError, problem_error_handler)``.

    Anything but a :class:`ProblemError` becomes a bare 500 ``internal_error`` that says
    nothing about the exception (its text may hold data the client must not see).
    """
    if isinstance(exception, ProblemError):
        return to_response(exception.problem)
    return to_response(problem(Code.INTERNAL_ERROR, "the server failed to answer"))


# ------------------------------------------------------------------------- request bodies


def parse_rules(raw: Any) -> AuctionRules:
    """An auction's rules from their JSON (``contracts.rules_json``), or a 422 naming
    the field at fault: ``invalid_field`` when the rules' schema refuses it, the
    amount's own reason (``too_many_decimals``, ...) for a well-formed amount the
    currency cannot hold. O(size of the rules)."""
    try:
        return rules_from_json(raw)
    except RulesError as error:
        extra = {"field": error.field}
        if error.reason is not None:
            raise ProblemError(problem_from_reason(error.reason, str(error), extra=extra)) from None
        raise ProblemError(problem(Code.INVALID_FIELD, str(error), extra=extra)) from None


_FIELD_WORD = re.compile(r"[a-z_]+(?:\.[a-z_]+)*")


def rules_field(rules: Any, detail: str) -> dict[str, str]:
    """The ``field`` member of the engine's ``invalid_rules`` refusal of ``rules``: the
    first word of its sentence that names a field of the rules (``"step.amount must be
    positive"``: ``rules.step.amount``), as :func:`parse_rules` names a field; ``{}`` when
    the sentence names none. O(len(detail))."""
    names = {spec.name for spec in dataclasses.fields(rules)}
    for word in _FIELD_WORD.findall(detail):
        if word.partition(".")[0] in names:
            return {"field": f"rules.{word}"}
    return {}


def require_json(content_type: str | None) -> None:
    """Accept ``application/json`` (parameters allowed, charset only UTF-8), else 415.

    Call before :func:`parse_body`. A missing ``Content-Type`` is refused too: ``curl
    -d`` sends form encoding by default, and a clear 415 beats a confusing parse error.
    """
    media, _, params = (content_type or "").partition(";")
    if media.strip().lower() != "application/json":
        raise ProblemError(
            problem(
                Code.UNSUPPORTED_MEDIA_TYPE,
                f"expected Content-Type application/json, got {content_type or 'none'}",
            )
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise ProblemError(
                problem(Code.UNSUPPORTED_MEDIA_TYPE, "JSON bodies must be UTF-8 (RFC 8259 §8.1)")
            )


class _Dataclass(Protocol):
    """Any dataclass (what ``dataclasses.fields`` takes): a body schema."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]


_T = TypeVar("_T", bound=_Dataclass)


def parse_body(raw: bytes, schema: type[_T], *, max_bytes: int = MAX_BODY_BYTES) -> _T:
    """Parse ``raw`` strictly into an instance of ``schema``, a dataclass type.

    The schema's type hints are the spec. A field with a default is optional (absent
    means the default); any other field is required. Supported hints: ``str``, ``int``,
    ``bool``, ``Decimal``, a ``StrEnum``, a nested dataclass, ``tuple[T, ...]``,
    ``T | None`` (``null`` allowed) and ``Annotated[T, Bound]`` (``T`` within the
    :class:`contracts.bounds.Bound`: a range, a length, a pattern). Refused, as a
    :class:`ProblemError`:

    * ``body_too_large`` (413): more than ``max_bytes`` bytes;
    * ``bad_json`` (400): not UTF-8, not JSON, ``NaN``/``Infinity``, a member name twice
      (parsers disagree on which one wins), nesting too deep, not an object;
    * ``unknown_field``, ``missing_field``, ``invalid_field`` (422), each naming the
      member in ``field`` and its JSON Pointer in ``pointer`` (``/lots/0/amount``).

    Types are exact: ``true`` is not an ``int``, ``1.5`` is not an ``int``, ints stay
    within ±:data:`MAX_INT`. As in JSON Schema, a number without a fraction is an
    integer however it is written (``1.0``, ``1e0``): JSON has one kind of number. A
    ``Decimal`` must be a JSON *string* in plain notation (``"12.50"``, the grammar of
    :mod:`contracts.decimal`, which the websocket frames and the rules read too), never
    a JSON number: a number would pass through binary floating point in most clients,
    and a price must not. Strings may not hold NUL (PostgreSQL
    ``text`` cannot) or lone surrogates (not encodable as UTF-8).

    O(size of ``raw``). Raises ``TypeError`` if ``schema`` uses an unsupported hint.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Bid:
    ...     amount: Decimal
    ...     note: str | None = None
    >>> parse_body(b'{"amount": "12.50"}', Bid)
    Bid(amount=Decimal('12.50'), note=None)
    """
    return _record(schema, _load(raw, max_bytes), "")


def query_int(
    args: Mapping[str, Any], name: str, *, default: int | None = None, top: int = MAX_INT
) -> int:
    """The query parameter ``name`` as an integer in ``0..top``; ``default`` if absent.

    The grammar is ASCII digits only (``1*DIGIT``, at most 16 of them): no sign, no
    white space, no ``_``, no other script's digits. Python's ``int()`` takes ``"+5"``,
    ``" 5"``, ``"1_0"`` and ``"٥"``, so one route would take what another refuses; every
    route reads its integers here. Absent without a ``default``: ``missing_field``;
    anything else: ``invalid_field``, naming the parameter in ``field``. O(len).

    >>> query_int({"after": "12"}, "after")
    12
    >>> query_int({}, "after", default=0)
    0
    """
    raw = args.get(name)
    if raw is None:
        if default is not None:
            return default
        raise ProblemError(
            problem(
                Code.MISSING_FIELD, f"query parameter {name} is required", extra={"field": name}
            )
        )
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 16) or (
        int(raw) > top
    ):
        raise ProblemError(
            problem(
                Code.INVALID_FIELD,
                f"{name} must be an integer from 0 to {top}",
                extra={"field": name},
            )
        )
    return int(raw)


def parse_object(raw: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """``raw`` as a JSON object, read as strictly as :func:`parse_body` reads it.

    For bodies whose shape a dataclass cannot state (a free-form member such as the
    rules of an auction). Raises ``body_too_large`` or ``bad_json`` problems; a string
    anywhere in the body holding a lone surrogate (``"\\ud800"``: valid JSON, not
    encodable as UTF-8) is ``bad_json`` too, as no field-by-field check follows that
    could name it. O(size).
    """
    tree = _load(raw, max_bytes)
    try:
        json.dumps(tree, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # Left in, it failed wherever the text was encoded later: a 500 (a tender title).
        raise ProblemError(
            problem(Code.BAD_JSON, "the body holds a lone surrogate (not encodable as UTF-8)")
        ) from None
    except RecursionError:  # pragma: no cover - json.loads refuses such nesting first
        raise ProblemError(problem(Code.BAD_JSON, "the body nests too deep")) from None
    return tree


def _load(raw: bytes, max_bytes: int) -> dict[str, Any]:
    if len(raw) > max_bytes:
        raise ProblemError(
            problem(Code.BODY_TOO_LARGE, f"the body is {len(raw)} bytes; the limit is {max_bytes}")
        )
    try:
        tree = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_unique_members,
            parse_constant=_refuse_constant,
            parse_float=_number,
        )
    except (ValueError, RecursionError) as error:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; so is our own refusal
        # of duplicates and constants, and the int-from-str digit limit of Python 3.11.
        raise ProblemError(problem(Code.BAD_JSON, f"the body is not valid JSON: {error}")) from None
    if not isinstance(tree, dict):
        raise ProblemError(problem(Code.BAD_JSON, "the body must be a JSON object"))
    return tree


def _number(text: str) -> int | float:
    # JSON has one kind of number, and JSON Schema's "integer" is any number without a
    # fraction: 78.0 and 7.8e1 are the integer 78, as a generated client may write it.
    # Read exactly (Decimal) so that 7258118399999999.7 is not rounded into an integer;
    # an exponent past 20 digits stays a float (it is out of every bound anyway), so
    # "1e999999999" costs nothing.
    value = Decimal(text)
    if value.adjusted() <= 20 and value == value.to_integral_value():
        return int(value)
    return float(text)


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise ValueError(f"member {name!r} appears more than once")
        members[name] = value
    return members


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _field_problem(code: Code, pointer: str, field: str, detail: str) -> ProblemError:
    return ProblemError(problem(code, detail, extra={"field": field, "pointer": pointer}))


def _segment(name: str) -> str:
    # RFC 6901 §4: "~" and "/" in a member name are escaped, "~" first.
    return name.replace("~", "~0").replace("/", "~1")


# Type hints per schema class, checked once: get_type_hints is slow and schemas are few.
_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(schema: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(schema)
    if hints is None:
        if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
            raise TypeError(f"a body schema must be a dataclass type, not {schema!r}")
        hints = typing.get_type_hints(schema, include_extras=True)
        # Check the whole schema on first use, so a bad hint fails every request (and
        # the first test), not only the rare one that happens to carry that field.
        for spec in dataclasses.fields(schema):
            _check_hint(hints[spec.name])
        _HINTS[schema] = hints
    return hints


def _check_hint(hint: Any) -> None:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        if not all(isinstance(extra, Bound) for extra in args[1:]):
            raise TypeError(f"only Bound annotations are supported, not {hint!r}")
        _check_hint(args[0])
    elif origin is Union or origin is types.UnionType:
        if len(args) != 2 or type(None) not in args:
            raise TypeError(f"only `T | None` unions are supported, not {hint!r}")
        _check_hint(next(arg for arg in args if arg is not type(None)))
    elif origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only `tuple[T, ...]` is supported, not {hint!r}")
        _check_hint(args[0])
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        _hints(hint)
    elif not (hint in _SCALARS or (isinstance(hint, type) and issubclass(hint, StrEnum))):
        raise TypeError(f"parse_body cannot read a field of type {hint!r}")


def _record(schema: type[_T], tree: dict[str, Any], pointer: str) -> _T:
    hints = _hints(schema)
    fields = {spec.name: spec for spec in dataclasses.fields(schema)}
    for name in sorted(tree):
        if name not in fields:
            where = f"{pointer}/{_segment(name)}"
            raise _field_problem(Code.UNKNOWN_FIELD, where, name, f"unknown field {name!r}")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        where = f"{pointer}/{_segment(name)}"
        if name in tree:
            values[name] = _value(hints[name], tree[name], where, name)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise _field_problem(Code.MISSING_FIELD, where, name, f"missing field {name!r}")
    return schema(**values)


def _value(hint: Any, raw: Any, pointer: str, field: str) -> Any:
    # `field` names the member; the items of an array report the array's name.
    # _check_hint vetted every hint already, so only the supported shapes reach here.
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *bounds = typing.get_args(hint)
        value = _value(base, raw, pointer, field)
        for bound in bounds:
            wrong = bound.problem(value)
            if wrong is not None:
                raise _field_problem(Code.INVALID_FIELD, pointer, field, f"{field} {wrong}")
        return value
    if origin is Union or origin is types.UnionType:
        if raw is None:
            return None
        option = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return _value(option, raw, pointer, field)
    if origin is tuple:
        if type(raw) is not list:
            raise _field_problem(Code.INVALID_FIELD, pointer, field, "expected an array")
        item = typing.get_args(hint)[0]
        return tuple(_value(item, each, f"{pointer}/{i}", field) for i, each in enumerate(raw))
    scalar = _SCALARS.get(hint)
    if scalar is not None:
        return scalar(raw, pointer, field)
    if issubclass(hint, StrEnum):
        choices = [member.value for member in hint]
        if type(raw) is not str or raw not in choices:
            raise _field_problem(Code.INVALID_FIELD, pointer, field, f"expected one of {choices}")
        return hint(raw)
    # The only shape left: a nested dataclass.
    if type(raw) is not dict:
        raise _field_problem(Code.INVALID_FIELD, pointer, field, "expected an object")
    return _record(hint, raw, pointer)


def _str(raw: Any, pointer: str, field: str) -> str:
    if type(raw) is not str:
        raise _field_problem(Code.INVALID_FIELD, pointer, field, "expected a string")
    if "\x00" in raw:
        raise _field_problem(Code.INVALID_FIELD, pointer, field, "strings may not contain NUL")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise _field_problem(
            Code.INVALID_FIELD, pointer, field, "the string holds a lone surrogate"
        ) from None
    return raw


def _bool(raw: Any, pointer: str, field: str) -> bool:
    if type(raw) is not bool:
        raise _field_problem(Code.INVALID_FIELD, pointer, field, "expected true or false")
    return raw


def _int(raw: Any, pointer: str, field: str) -> int:
    # `type(raw) is int`: bool is a subclass of int, and `true` is not a number.
    if type(raw) is not int or not -MAX_INT <= raw <= MAX_INT:
        raise _field_problem(
            Code.INVALID_FIELD, pointer, field, f"expected an integer within ±{MAX_INT}"
        )
    return raw


def _decimal(raw: Any, pointer: str, field: str) -> Decimal:
    # The one plain-decimal grammar (contracts.decimal), as the websocket frames and the
    # rules read it: ``Decimal`` alone would also take "1E+2", " 12.5 ", "1_000", "NaN".
    try:
        return parse_plain(raw)
    except PlainDecimalError as error:
        raise _field_problem(Code.INVALID_FIELD, pointer, field, error.detail) from None


_SCALARS: dict[Any, Callable[[Any, str, str], Any]] = {
    str: _str,
    bool: _bool,
    int: _int,
    Decimal: _decimal,
}
