"""Who may call which route, and who may mint which token: the rules as data, in one place.

Every route the core registers (:data:`ROUTES`, by Sanic route name) and every route of an
edge (:data:`EDGE_ROUTES`) has one :class:`Rule`: the roles it admits and how a token's
auction *binding* (its ``auction`` claim) applies. The routes look their rule up by their
own name (:meth:`api.access.credentials.Credentials.claims`), so a route cannot state a
rule of its own, and a route without one fails (``tests/api/access/test_rules.py`` also
fails the suite for it).

==========  ================================================================================
binding     meaning
==========  ================================================================================
PUBLIC      no token is read: health, metrics, documents, public keys, the static pages
TARGET      the request names one auction or tender (the path's id; the new token's auction
            for ``POST /tokens``): a bound token passes only when bound to exactly that id
NARROWED    any admitted token passes the door and the route narrows what it shows or does
            to the binding (the auction list; revoking: one's own token, else
            :data:`REVOKE_OTHERS` on the revoked token's auction)
UNBOUND     the route reaches beyond one auction (creates an auction or a tender, hands a
            lot off to a new auction, streams every auction): a bound token is refused
==========  ================================================================================

Roles are checked first (``role_forbidden``), then the binding (``wrong_auction``), as in
:func:`api.access.auth.require`. A bound officer that creates an auction or a tender therefore
gets 403 ``wrong_auction``: its role is right, its binding is what is too narrow.

**One namespace.** A token's ``auction`` claim names an auction *or* a tender: the tender
routes and the tender audit routes bind to the tender id exactly as the auction routes
bind to the auction id. Ids are unique across both kinds (creating an auction with a
tender's id, or a tender with an auction's id, is refused 409), so a binding names one
thing.

**Minting** (:func:`grant`, used by ``POST /api/v1/tokens``, bidder registration and
the tender hand-off): a token never mints a wider role (:data:`MINTABLE`: only an officer
mints, and any role), never a wider binding (a token bound to auction X mints only tokens
bound to X, never an unbound one), and a bound token never mints one that outlives it.
An unbound officer is the root of authority: it mints any role, for any auction or none,
for up to :data:`MAX_TTL_S`.

Nothing here reads a clock or does I/O; every check is O(1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from api.access.auth import (
    AuthMisuse,
    Claims,
    Role,
    RoleForbidden,
    TokenExpired,
    WrongAuction,
    require,
)

__all__ = [
    "EDGE_ROUTES",
    "Grant",
    "MAX_TTL_S",
    "MINTABLE",
    "PUBLIC",
    "PUBLIC_LIVE_ROLE",
    "REVOKE_OTHERS",
    "ROUTES",
    "Binding",
    "Rule",
    "grant",
    "rule_for",
]

#: The longest lifetime ``POST /api/v1/tokens`` grants, in seconds (7 days).
MAX_TTL_S = 7 * 86400


class Binding(StrEnum):
    """How a token's auction binding applies to a route (see the module docstring)."""

    PUBLIC = "public"
    TARGET = "target"
    NARROWED = "narrowed"
    UNBOUND = "unbound"


@dataclass(frozen=True, slots=True)
class Rule:
    """The roles a route admits and how the binding applies. O(1) checks."""

    roles: frozenset[Role]
    binding: Binding

    def admit(self, claims: Claims) -> Claims:
        """Raise ``role_forbidden`` unless ``claims``' role is one this rule admits."""
        if self.binding is Binding.PUBLIC:
            raise AuthMisuse("a public route reads no token")
        return require(claims, roles=self.roles)

    def bind(self, claims: Claims, target: str | None = None) -> Claims:
        """Raise ``wrong_auction`` unless the binding allows acting on ``target``.

        ``target`` is the auction or tender the request acts on (TARGET); ``None`` there
        means "no single one" (an unbound token's act), which a bound token may not do.
        """
        if claims.auction is None or self.binding is Binding.NARROWED:
            return claims
        if self.binding is Binding.TARGET and target is not None:
            return require(claims, auction_id=target)
        if self.binding is Binding.PUBLIC:
            raise AuthMisuse("a public route reads no token")
        raise WrongAuction(
            f"the token is bound to {claims.auction!r}; this needs a token not bound to one"
        )

    def check(self, claims: Claims, target: str | None = None) -> Claims:
        """:meth:`admit`, then :meth:`bind`; the claims, for chaining."""
        return self.bind(self.admit(claims), target)


_ANYONE = frozenset(Role)
_OFFICER = frozenset({Role.OFFICER})
_BIDDER = frozenset({Role.BIDDER})
_OVERSEER = frozenset({Role.OFFICER, Role.AUDITOR})

#: The rule of a route that reads no token.
PUBLIC = Rule(frozenset(), Binding.PUBLIC)

_ANY_OF_TARGET = Rule(_ANYONE, Binding.TARGET)
_OFFICER_OF_TARGET = Rule(_OFFICER, Binding.TARGET)
_BIDDER_OF_TARGET = Rule(_BIDDER, Binding.TARGET)
_OVERSEER_OF_TARGET = Rule(_OVERSEER, Binding.TARGET)
_UNBOUND_OFFICER = Rule(_OFFICER, Binding.UNBOUND)


def _stream_rules(prefix: str) -> dict[str, Rule]:
    # The audit routes of one kind of stream (api.audit.trail._stream_routes): proofs for any
    # token of the stream, exports for its overseers (for a tender, an officer must also
    # be on its committee: the route checks that after this rule).
    return {
        f"{prefix}_checkpoint": _ANY_OF_TARGET,
        f"{prefix}_inclusion": _ANY_OF_TARGET,
        f"{prefix}_consistency": _ANY_OF_TARGET,
        f"{prefix}_export": _OVERSEER_OF_TARGET,
        f"{prefix}_ocds": _OVERSEER_OF_TARGET,
    }


#: Every route of the core, by Sanic route name (without the app's prefix).
ROUTES: Mapping[str, Rule] = MappingProxyType(
    {
        # Operations, documents, public keys and the static pages: no token.
        "healthz": PUBLIC,
        "readyz": PUBLIC,
        "metrics": PUBLIC,
        "openapi": PUBLIC,
        "docs": PUBLIC,
        "docs_asset": PUBLIC,
        "audit_key": PUBLIC,
        "tender_server_key": PUBLIC,
        "tender_seal_redirect": PUBLIC,
        "tender_seal_page": PUBLIC,
        "tender_seal_asset": PUBLIC,
        "tender_open_redirect": PUBLIC,
        "tender_open_page": PUBLIC,
        "tender_open_asset": PUBLIC,
        "app_redirect": PUBLIC,
        "app_page": PUBLIC,
        "app_asset": PUBLIC,
        "schemas_messages": PUBLIC,
        "schemas_http": PUBLIC,
        "schemas_rules": PUBLIC,
        "schemas_tender": PUBLIC,
        "vendor_asset": PUBLIC,
        "landing_page": PUBLIC,
        "landing_asset": PUBLIC,
        "public_auctions": PUBLIC,
        # Auctions.
        "list_auctions": Rule(_ANYONE, Binding.NARROWED),
        "create_auction": _UNBOUND_OFFICER,
        "get_auction": _ANY_OF_TARGET,
        "my_standing": _BIDDER_OF_TARGET,
        "events_after": _ANY_OF_TARGET,
        "register_bidder": _OFFICER_OF_TARGET,
        "bidder_bids": _BIDDER_OF_TARGET,
        "bidder_proxy": _BIDDER_OF_TARGET,
        "bidder_accept": _BIDDER_OF_TARGET,
        "bidder_withdraw": _BIDDER_OF_TARGET,
        "bidder_pass": _BIDDER_OF_TARGET,
        "disqualify": _OFFICER_OF_TARGET,
        "cancel": _OFFICER_OF_TARGET,
        # Credentials: the target of POST /tokens is the auction of the token minted.
        "issue_token": _OFFICER_OF_TARGET,
        "revoke_token": Rule(_ANYONE, Binding.NARROWED),
        # Invitation links: an officer of the auction invites; the code is the redeemer's
        # credential, so redeeming reads no token (it is limited per address).
        "issue_invitation": _OFFICER_OF_TARGET,
        "list_invitations": _OFFICER_OF_TARGET,
        "redeem_invitation": PUBLIC,
        # Revoking a supplier's access (every token of the party bound to the auction or
        # tender, and its unused links): REVOKE_OTHERS on the path's auction or tender (a
        # tender's route then requires its committee, 403 not_tender_officer).
        "revoke_bidder": _OFFICER_OF_TARGET,
        "revoke_supplier": _OFFICER_OF_TARGET,
        # Websockets. ``live`` with the gavel.public subprotocol and no token reads none:
        # the auction's public view, as PUBLIC_LIVE_ROLE sees it, read-only (api.live.route).
        "live": _ANY_OF_TARGET,
        "edge_feed": Rule(_OVERSEER, Binding.UNBOUND),
        # Sealed tenders. Schedule changes and bid listings admit any role on purpose:
        # the engine refuses everyone but the tender's officers *and logs the attempt*.
        "tender_create": _UNBOUND_OFFICER,
        # The officer's list: those they created or sit on the committee of (the route
        # narrows; a bound token lists its own tender only).
        "list_tenders": Rule(_OFFICER, Binding.NARROWED),
        "tender_ceremony": _OFFICER_OF_TARGET,
        "tender_get": _ANY_OF_TARGET,
        "tender_events": _ANY_OF_TARGET,
        "tender_my_share": _OFFICER_OF_TARGET,
        "tender_schedule": _ANY_OF_TARGET,
        "tender_submit": _BIDDER_OF_TARGET,
        "tender_upload": _BIDDER_OF_TARGET,
        "tender_withdraw": _BIDDER_OF_TARGET,
        "tender_receipt": _ANY_OF_TARGET,
        "tender_bids": _ANY_OF_TARGET,
        "tender_share": _OFFICER_OF_TARGET,
        "tender_offers": _ANY_OF_TARGET,
        "tender_exclude": _OFFICER_OF_TARGET,
        "tender_award": _OFFICER_OF_TARGET,
        # Creates an auction and mints its bidders' tokens: beyond the tender's binding.
        "tender_hand_off": _UNBOUND_OFFICER,
        # Invitation links for a tender's supplier: an officer (the route then requires
        # the tender's committee, 403 not_tender_officer) invites; redeeming is above.
        "issue_tender_invitation": _OFFICER_OF_TARGET,
        "list_tender_invitations": _OFFICER_OF_TARGET,
        # The audit trail.
        **_stream_rules("audit_auction"),
        # Red flags of an auction's log (api.audit.flags): its overseers, like the export.
        "audit_auction_flags": _OVERSEER_OF_TARGET,
        # The auditor's search of finished auctions and tenders: a bound token finds its own.
        "audit_search": Rule(_OVERSEER, Binding.NARROWED),
        **_stream_rules("audit_tender"),
        # Red flags of a tender's log (api.audit.tender_flags): its committee and auditors
        # (the route checks the committee after this rule, as the export does).
        "audit_tender_flags": _OVERSEER_OF_TARGET,
    }
)

#: Every route of a read-only edge (:mod:`api.http.edge`), by Sanic route name.
EDGE_ROUTES: Mapping[str, Rule] = MappingProxyType(
    {"healthz": PUBLIC, "readyz": PUBLIC, "live": _ANY_OF_TARGET}
)

#: Whose view the live route's public subscription (no token, the ``gavel.public``
#: subprotocol) gets: an observer's, without a party (labels only, no secret before the
#: close, no rejections, no reserve); it sends no command (``forbidden``).
PUBLIC_LIVE_ROLE = Role.OBSERVER

#: Revoking another party's token (``POST /tokens/{jti}/revoke``): an officer, bound to
#: the revoked token's auction or to none. Anyone may revoke their own token.
REVOKE_OTHERS = _OFFICER_OF_TARGET

#: What each role may mint. Only an officer mints, and any role (an auditor, observer or
#: bidder reads or acts less than an officer of the same binding). Never more.
MINTABLE: Mapping[Role, frozenset[Role]] = MappingProxyType(
    {
        Role.OFFICER: frozenset(Role),
        Role.AUDITOR: frozenset(),
        Role.OBSERVER: frozenset(),
        Role.BIDDER: frozenset(),
    }
)


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def rule_for(route_name: str, routes: Mapping[str, Rule] = ROUTES) -> Rule:
    """The rule of ``route_name`` (a Sanic route name, with or without the app's prefix).

    A route without a rule is a programming error (:class:`~api.access.auth.AuthMisuse`), never
    an open door.
    """
    name = route_name.rpartition(".")[2]
    rule = routes.get(name)
    if rule is None:
        raise AuthMisuse(f"route {name!r} has no access rule in api.access.rules")
    return rule


@dataclass(frozen=True, slots=True)
class Grant:
    """A token some minter may mint, checked by :func:`grant`: ``role``, bound to
    ``auction`` (``None``: to none), for ``ttl_s`` seconds but never past ``not_after_s``
    (the minter's own expiry when the minter is bound; ``None``: no such limit)."""

    role: Role
    auction: str | None
    ttl_s: int
    not_after_s: int | None

    def lifetime(self, now_s: int) -> int:
        """The lifetime of the token issued at ``now_s``: ``ttl_s`` cut at
        ``not_after_s``, and at least a second (a grant checked a moment ago stays good)."""
        if self.not_after_s is None:
            return self.ttl_s
        return max(1, min(self.ttl_s, self.not_after_s - now_s))


def grant(minter: Claims, role: Role, auction: str | None, ttl_s: int, *, now_s: int) -> Grant:
    """What ``minter`` may mint when asked for a ``role`` token bound to ``auction``
    (``None``: not bound) for ``ttl_s`` seconds; else the refusal.

    * ``role_forbidden``: ``role`` is not in ``MINTABLE[minter.role]``;
    * ``wrong_auction``: ``minter`` is bound and ``auction`` is not its auction;
    * a bound minter's tokens never outlive its own: they end at ``minter.exp`` at the
      latest (``token_expired`` when that leaves nothing, inside the verify leeway).

    Check before any work the token comes with (a registration), so that a refusal
    changes nothing. O(1).
    """
    if role not in MINTABLE[minter.role]:
        raise RoleForbidden(f"{_a(minter.role)} may not mint {_a(role)} token")
    if minter.auction is None:
        return Grant(role, auction, ttl_s, None)
    if auction != minter.auction:
        wanted = "a token not bound to one" if auction is None else repr(auction)
        raise WrongAuction(
            f"the token is bound to {minter.auction!r}; it mints only tokens bound to it, "
            f"not {wanted}"
        )
    if minter.exp - now_s < 1:
        raise TokenExpired(f"the token expired at {minter.exp}: it can mint nothing more")
    return Grant(role, auction, min(ttl_s, minter.exp - now_s), minter.exp)
