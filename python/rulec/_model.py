"""The plain, read-only objects rulec hands out, and its exceptions.

Every object here is a frozen dataclass built from the private extension's
data: rules as written (Rule, Clause), findings (Diagnostic, Note), packet
verdicts (Trace) and source positions (Location). They compare by value,
print usefully and cannot be changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any, Literal, Optional, Tuple

__all__ = [
    "Clause",
    "CompileError",
    "CompileWarning",
    "Default",
    "Diagnostic",
    "Error",
    "Hop",
    "Location",
    "MatchingRule",
    "Note",
    "PacketError",
    "ParseError",
    "Rule",
    "Trace",
    "VpnCheck",
    "VpnError",
    "VpnRow",
]


@dataclass(frozen=True, slots=True)
class Location:
    """A span of a policy file: 1-based lines and columns (columns count bytes)."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @classmethod
    def _from(cls, data: Optional[Tuple[Any, ...]]) -> Optional[Location]:
        return None if data is None else cls(*data)


@dataclass(frozen=True, slots=True)
class Note:
    """A secondary location of a diagnostic ("shadowed by this rule")."""

    location: Location
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: what `rulec lint` prints for it is `text` (and str())."""

    severity: Literal["error", "warning", "note"]
    code: str
    message: str
    location: Optional[Location]
    notes: Tuple[Note, ...] = ()
    hint: Optional[str] = None
    witness: Optional[str] = None
    text: str = _field(default="", repr=False, compare=False)

    def __str__(self) -> str:
        return self.text or f"{self.location}: {self.severity}: {self.message} [{self.code}]"

    @classmethod
    def _from(cls, data: dict[str, Any]) -> Diagnostic:
        notes = tuple(Note(Location(*loc), message) for loc, message in data["notes"])
        return cls(
            severity=data["severity"],
            code=data["code"],
            message=data["message"],
            location=Location._from(data["location"]),
            notes=notes,
            hint=data["hint"],
            witness=data["witness"],
            text=data["text"],
        )


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of a rule as written: `to 192.0.2.1 port 80` is kind "to",
    values ("192.0.2.1",), ports ("80",). Values are text: addresses and
    CIDRs, numbers and ranges ("1000-2000"), names ("tcp", "https") and
    list references ("$office_lan")."""

    kind: Literal["protocol", "from", "to", "service", "family", "icmp-type"]
    values: Tuple[str, ...]
    ports: Tuple[str, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule as written, in reading order (included files expanded).

    `direction` and `interface` are None where the rule names none (both
    directions, every interface); `options` are the `>>` options in the order
    written ("state", "done", "log", "label"); `label` is the label's text."""

    index: int
    action: Literal["pass", "block", "reject"]
    direction: Optional[Literal["in", "out"]]
    interface: Optional[str]
    clauses: Tuple[Clause, ...]
    options: Tuple[str, ...]
    label: Optional[str]
    location: Location
    text: str = _field(compare=False)

    @property
    def state(self) -> bool:
        """`>> state`: replies of a passed connection come back."""
        return "state" in self.options

    @property
    def done(self) -> bool:
        """`>> done`: a match decides at once."""
        return "done" in self.options

    @property
    def log(self) -> bool:
        return "log" in self.options

    def __str__(self) -> str:
        return self.text

    @classmethod
    def _from(cls, data: Tuple[Any, ...]) -> Rule:
        index, action, direction, interface, clauses, options, label, location, text = data
        return cls(
            index,
            action,
            direction,
            interface,
            tuple(Clause(kind, values, ports, Location(*where)) for kind, values, ports, where in clauses),
            options,
            label,
            Location(*location),
            text,
        )


@dataclass(frozen=True, slots=True)
class Default:
    """The verdict for packets of one direction that no rule decides. Without
    a `default` statement (explicit False, no location) they pass, as in pf."""

    direction: Literal["in", "out"]
    action: Literal["pass", "block", "reject"]
    explicit: bool
    location: Optional[Location]


@dataclass(frozen=True, slots=True)
class MatchingRule:
    """A rule that matches a traced packet, and what it did: "decides",
    "overridden" (a later matching rule decides) or "not-consulted" (an
    earlier rule with `done` decided)."""

    rule: Rule
    role: Literal["decides", "overridden", "not-consulted"]


@dataclass(frozen=True, slots=True)
class Trace:
    """What the policy does to one packet, by the reference evaluator.

    `decided_by` is "rule" (then `rule` is set), "default" (the direction's
    `default` statement, at `location`), "no-default" (nothing matched and
    there is no default: the packet passes) or "state" (an earlier packet of
    the connection created state)."""

    packet: str
    verdict: Literal["pass", "block", "reject"]
    decided_by: Literal["rule", "default", "no-default", "state"]
    rule: Optional[Rule]
    location: Optional[Location]
    created_state: bool
    matching: Tuple[MatchingRule, ...]

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


@dataclass(frozen=True, slots=True)
class Hop:
    """One judgement of a VPN packet: on a host the one judgement, through a
    router `in` on the inside or outside interface, then `out`."""

    packet: str
    verdict: Literal["pass", "block", "reject"]
    decided_by: Literal["rule", "default", "no-default", "state"]
    location: Optional[Location]
    created_state: bool


@dataclass(frozen=True, slots=True)
class VpnRow:
    """One leg of a VPN in one direction: the packet that starts it
    (reply=False) or its reply. `verdict` is "pass", "block", "reject", or
    "not sent" for the reply to a dropped request; a failing row names the
    rule or default that drops it (`blocked_by`) and what the user sees."""

    leg: str
    purpose: str
    sender: Literal["client", "server"]
    reply: bool
    verdict: Literal["pass", "block", "reject", "not sent"]
    hops: Tuple[Hop, ...]
    symptom: Optional[str]
    blocked_by: Optional[Location]

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @classmethod
    def _from(cls, data: dict[str, Any]) -> VpnRow:
        hops = tuple(
            Hop(h["packet"], h["verdict"], h["decided_by"], Location._from(h["location"]), h["created_state"])
            for h in data["hops"]
        )
        return cls(
            leg=data["leg"],
            purpose=data["purpose"],
            sender=data["sender"],
            reply=data["reply"],
            verdict=data["verdict"],
            hops=hops,
            symptom=data["symptom"],
            blocked_by=Location._from(data["blocked_by"]),
        )


@dataclass(frozen=True, slots=True)
class VpnCheck:
    """Would a VPN session work through the policy? `ok` is True when every
    row passes; `rows` go leg by leg, each request followed by its reply."""

    vpn: str
    description: str
    ok: bool
    client: str
    server: str
    rows: Tuple[VpnRow, ...]
    remarks: Tuple[str, ...] = ()
    note: Optional[str] = None
    custom: bool = False

    @property
    def failing(self) -> Tuple[VpnRow, ...]:
        """The rows that do not pass."""
        return tuple(r for r in self.rows if not r.passed)

    @classmethod
    def _from(cls, data: dict[str, Any]) -> VpnCheck:
        return cls(
            vpn=data["vpn"],
            description=data["description"],
            ok=data["works"],
            client=data["client"],
            server=data["server"],
            rows=tuple(VpnRow._from(r) for r in data["rows"]),
            remarks=tuple(data["remarks"]),
            note=data["note"],
            custom=data["custom"],
        )


class Error(Exception):
    """The base of every exception rulec raises on purpose."""


class ParseError(Error, ValueError):
    """A policy that does not parse or check: every diagnostic, and str() is
    the text `rulec lint` prints for them. `file`, `line`, `column`, `code`
    and `message` describe the first error."""

    def __init__(self, text: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(text, tuple(diagnostics))

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def diagnostics(self) -> Tuple[Diagnostic, ...]:
        return tuple(self.args[1])

    @property
    def errors(self) -> Tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    def _first(self) -> Optional[Diagnostic]:
        errors = self.errors
        return errors[0] if errors else None

    @property
    def file(self) -> Optional[str]:
        first = self._first()
        return first.location.file if first and first.location else None

    @property
    def line(self) -> Optional[int]:
        first = self._first()
        return first.location.line if first and first.location else None

    @property
    def column(self) -> Optional[int]:
        first = self._first()
        return first.location.column if first and first.location else None

    @property
    def code(self) -> Optional[str]:
        first = self._first()
        return first.code if first else None

    @property
    def message(self) -> Optional[str]:
        first = self._first()
        return first.message if first else None


class CompileError(Error):
    """A policy that cannot be compiled for a target (a feature the target
    cannot express, or an unknown target). str() is the CLI's text."""

    def __init__(self, text: str, target: str = "", diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(text, target, tuple(diagnostics))

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def target(self) -> str:
        return str(self.args[1])

    @property
    def diagnostics(self) -> Tuple[Diagnostic, ...]:
        return tuple(self.args[2])


class CompileWarning(UserWarning):
    """A target-specific warning (RC5xx) from a compilation that succeeded:
    str() is the CLI's text, `diagnostic` the finding."""

    def __init__(self, text: str, diagnostic: Optional[Diagnostic] = None) -> None:
        super().__init__(text, diagnostic)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def diagnostic(self) -> Optional[Diagnostic]:
        found = self.args[1]
        return found if isinstance(found, Diagnostic) else None


class VpnError(Error, ValueError):
    """A VPN check that cannot be made: an unknown profile (then `suggestion`
    may name a close one, and `known` lists them all) or a bad request."""

    def __init__(self, text: str, suggestion: Optional[str] = None, known: Sequence[str] = ()) -> None:
        super().__init__(text, suggestion, tuple(known))

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def suggestion(self) -> Optional[str]:
        return self.args[1] if self.args[1] is None else str(self.args[1])

    @property
    def known(self) -> Tuple[str, ...]:
        return tuple(self.args[2])


class PacketError(Error, ValueError):
    """A packet that does not follow the trace syntax
    (`out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:1723`)."""
