# The public objects and exceptions (runtime and documentation: _model.py).
# Checked against the installed package by tests/python/test_stubs.py.
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Optional

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
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    @classmethod
    def _from(cls, data: Optional[tuple[Any, ...]]) -> Optional[Location]: ...

@dataclass(frozen=True, slots=True)
class Note:
    location: Location
    message: str

@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Literal["error", "warning", "note"]
    code: str
    message: str
    location: Optional[Location]
    notes: tuple[Note, ...] = ...
    hint: Optional[str] = ...
    witness: Optional[str] = ...
    text: str = ...
    @classmethod
    def _from(cls, data: dict[str, Any]) -> Diagnostic: ...

@dataclass(frozen=True, slots=True)
class Clause:
    kind: Literal["protocol", "from", "to", "service", "family", "icmp-type"]
    values: tuple[str, ...]
    ports: tuple[str, ...]
    location: Location

@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    action: Literal["pass", "block", "reject"]
    direction: Optional[Literal["in", "out"]]
    interface: Optional[str]
    clauses: tuple[Clause, ...]
    options: tuple[str, ...]
    label: Optional[str]
    location: Location
    text: str
    @property
    def state(self) -> bool: ...
    @property
    def done(self) -> bool: ...
    @property
    def log(self) -> bool: ...
    @classmethod
    def _from(cls, data: tuple[Any, ...]) -> Rule: ...

@dataclass(frozen=True, slots=True)
class Default:
    direction: Literal["in", "out"]
    action: Literal["pass", "block", "reject"]
    explicit: bool
    location: Optional[Location]

@dataclass(frozen=True, slots=True)
class MatchingRule:
    rule: Rule
    role: Literal["decides", "overridden", "not-consulted"]

@dataclass(frozen=True, slots=True)
class Trace:
    packet: str
    verdict: Literal["pass", "block", "reject"]
    decided_by: Literal["rule", "default", "no-default", "state"]
    rule: Optional[Rule]
    location: Optional[Location]
    created_state: bool
    matching: tuple[MatchingRule, ...]
    @property
    def passed(self) -> bool: ...

@dataclass(frozen=True, slots=True)
class Hop:
    packet: str
    verdict: Literal["pass", "block", "reject"]
    decided_by: Literal["rule", "default", "no-default", "state"]
    location: Optional[Location]
    created_state: bool

@dataclass(frozen=True, slots=True)
class VpnRow:
    leg: str
    purpose: str
    sender: Literal["client", "server"]
    reply: bool
    verdict: Literal["pass", "block", "reject", "not sent"]
    hops: tuple[Hop, ...]
    symptom: Optional[str]
    blocked_by: Optional[Location]
    @property
    def passed(self) -> bool: ...
    @classmethod
    def _from(cls, data: dict[str, Any]) -> VpnRow: ...

@dataclass(frozen=True, slots=True)
class VpnCheck:
    vpn: str
    description: str
    ok: bool
    client: str
    server: str
    rows: tuple[VpnRow, ...]
    remarks: tuple[str, ...] = ...
    note: Optional[str] = ...
    custom: bool = ...
    @property
    def failing(self) -> tuple[VpnRow, ...]: ...
    @classmethod
    def _from(cls, data: dict[str, Any]) -> VpnCheck: ...

class Error(Exception): ...

class ParseError(Error, ValueError):
    def __init__(self, text: str, diagnostics: Sequence[Diagnostic] = ...) -> None: ...
    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]: ...
    @property
    def errors(self) -> tuple[Diagnostic, ...]: ...
    def _first(self) -> Optional[Diagnostic]: ...
    @property
    def file(self) -> Optional[str]: ...
    @property
    def line(self) -> Optional[int]: ...
    @property
    def column(self) -> Optional[int]: ...
    @property
    def code(self) -> Optional[str]: ...
    @property
    def message(self) -> Optional[str]: ...

class CompileError(Error):
    def __init__(self, text: str, target: str = ..., diagnostics: Sequence[Diagnostic] = ...) -> None: ...
    @property
    def target(self) -> str: ...
    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]: ...

class CompileWarning(UserWarning):
    def __init__(self, text: str, diagnostic: Optional[Diagnostic] = ...) -> None: ...
    @property
    def diagnostic(self) -> Optional[Diagnostic]: ...
class VpnError(Error, ValueError):
    def __init__(self, text: str, suggestion: Optional[str] = ..., known: Sequence[str] = ...) -> None: ...
    @property
    def suggestion(self) -> Optional[str]: ...
    @property
    def known(self) -> tuple[str, ...]: ...

class PacketError(Error, ValueError): ...
