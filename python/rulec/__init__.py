"""rulec: check firewall policies and compile them to nftables, iptables, pf
or Windows Firewall, from Python.

    import rulec
    policy = rulec.load("office.rules")          # or rulec.parse(text)
    for finding in policy.lint():
        print(finding)                            # as `rulec lint` prints it
    open("office.nft", "w").write(policy.compile("nft"))
    print(policy.trace("out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:1723").verdict)

A thin layer over the C++ library (the private module rulec._rulec): what
Python sees is exactly what the `rulec` command checks and emits.
"""

from __future__ import annotations

import errno
import gc
import os
import warnings
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional, Sequence, Union

from . import _rulec
from ._model import (
    Clause,
    CompileError,
    CompileWarning,
    Default,
    Diagnostic,
    Error,
    Hop,
    Location,
    MatchingRule,
    Note,
    PacketError,
    ParseError,
    Rule,
    Trace,
    VpnCheck,
    VpnError,
    VpnRow,
)

__version__: str = _rulec.version

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
    "Policy",
    "Rule",
    "Trace",
    "VpnCheck",
    "VpnError",
    "VpnRow",
    "__version__",
    "load",
    "parse",
    "targets",
    "vpn_profiles",
]


class Policy:
    """A policy that parsed and checked without errors. Made by rulec.parse()
    or rulec.load(); never changed afterwards, so it may be used from several
    threads (parse, lint and compile release the GIL)."""

    def __init__(self, document: _rulec.Document) -> None:
        if not document.ok:
            raise ValueError("rulec.Policy is made by rulec.parse() or rulec.load()")
        self._doc = document
        self._files: Optional[tuple[str, ...]] = None
        self._rules: Optional[tuple[Rule, ...]] = None
        self._diagnostics: Optional[tuple[Diagnostic, ...]] = None

    def __repr__(self) -> str:
        return f"<rulec.Policy {self.files[0]!r}: {len(self.rules)} rules>"

    @property
    def files(self) -> tuple[str, ...]:
        """Every file read: the root first, then included files."""
        if self._files is None:
            self._files = tuple(self._doc.files)
        return self._files

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule as written, in reading order (included files expanded)."""
        if self._rules is None:
            with _collector_paused():
                self._rules = tuple(Rule._from(r) for r in self._doc.rules())
        return self._rules

    @property
    def defaults(self) -> tuple[Default, Default]:
        """The default verdicts, inbound then outbound."""
        inbound, outbound = (
            Default(direction, action, explicit, Location._from(where))
            for direction, action, explicit, where in self._doc.defaults()
        )
        return inbound, outbound

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Warnings from reading and checking the policy (lint() includes them)."""
        if self._diagnostics is None:
            self._diagnostics = tuple(Diagnostic._from(d) for d in self._doc.diagnostics())
        return self._diagnostics

    def lint(self) -> list[Diagnostic]:
        """Every finding `rulec lint` reports for this policy, in file order."""
        return [Diagnostic._from(d) for d in self._doc.lint()]

    def compile(self, target: str, *, strict: bool = False) -> str:
        """The configuration for `target` (one of rulec.targets()).

        Raises CompileError for an unknown target or a rule the target cannot
        express; target-specific warnings are issued as CompileWarning.
        With strict=True, refuses where the output would only approximate
        the policy."""
        names = targets()
        if target not in names:
            raise CompileError(
                f"unknown target {target!r} (targets: {', '.join(names) or 'none'})", target
            )
        ok, text, found = self._doc.compile(target, strict)
        diags = [Diagnostic._from(d) for d in found]
        if not ok:
            raise CompileError("".join(d.text for d in diags), target, diags)
        for d in diags:
            warnings.warn(CompileWarning(d.text, d), stacklevel=2)
        return text

    def trace(self, packet: str) -> Trace:
        """Which rule decides `packet`, and the verdict, e.g.
        policy.trace("out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:1723")."""
        return self.trace_connection([packet])[0]

    def trace_connection(self, packets: Iterable[str]) -> list[Trace]:
        """Judges packets in order with one state table, as `rulec trace`
        does: a reply passes by the state its connection's first packet made."""
        specs = list(packets)
        for spec in specs:
            if not isinstance(spec, str):
                raise TypeError(f"a packet is a str, not {type(spec).__name__}")
            canonical, error = _rulec.parse_packet(spec)
            if canonical is None:
                raise PacketError(f"packet {spec!r}: {error}")
        by_index = self.rules
        out = []
        for t in self._doc.trace(specs):
            rule = by_index[t["rule"]] if t["rule"] is not None else None
            matching = tuple(MatchingRule(by_index[i], role) for i, role in t["matching"])
            out.append(
                Trace(
                    packet=t["packet"],
                    verdict=t["verdict"],
                    decided_by=t["decided_by"],
                    rule=rule,
                    location=Location._from(t["location"]),
                    created_state=t["created_state"],
                    matching=matching,
                )
            )
        return out

    def check_vpn(
        self,
        name: str,
        *,
        role: str = "client",
        via: Union[str, Sequence[str], None] = None,
        peer: Optional[str] = None,
        port: Optional[int] = None,
        on: Optional[str] = None,
    ) -> VpnCheck:
        """Would VPN `name` (rulec.vpn_profiles(), or one the policy declares)
        work through this policy? As `rulec check --vpn`: `role` is this
        host's ("client" or "server"), or the inside machine's with `via`
        ("lan:wan" or ("lan", "wan"): a router forwards, inside interface
        first); `peer` is the remote side's address, `port` replaces the
        port of configurable legs, `on` is the host's interface. Raises
        VpnError for an unknown profile or a request that makes no sense."""
        if role not in ("client", "server"):
            raise VpnError(f"role {role!r}: expected 'client' or 'server'")
        via_in, via_out = _split_via(via)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
            raise VpnError(f"port {port!r}: expected a number from 1 to 65535")
        result = self._doc.check_vpn(
            name, role, via_in, via_out, on or "", None if peer is None else str(peer), port
        )
        if "error" in result:
            message = result["message"]
            if result["suggestion"]:
                message += f"; did you mean {result['suggestion']!r}?"
            raise VpnError(message, result["suggestion"], result["known"])
        return VpnCheck._from(result)

    def vpn_profiles(self) -> list[str]:
        """Every VPN profile this policy can check: built-in and declared."""
        return list(self._doc.vpn_profiles())

    def format(self) -> str:
        """The root file in canonical formatting (what `rulec fmt` writes)."""
        return self._doc.format()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector while a policy's rules become
    objects: they hold no cycles, and a million of them would otherwise
    trigger many full collections (four times slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _split_via(via: Union[str, Sequence[str], None]) -> tuple[str, str]:
    if via is None:
        return "", ""
    parts = via.split(":") if isinstance(via, str) else list(via)
    if len(parts) != 2 or not all(isinstance(p, str) and p for p in parts):
        raise VpnError(f"via {via!r}: expected IN:OUT, the inside interface first ('lan:wan')")
    return parts[0], parts[1]


def _checked(document: _rulec.Document) -> Policy:
    if not document.ok:
        diags = [Diagnostic._from(d) for d in document.diagnostics()]
        raise ParseError(document.render(), diags)
    return Policy(document)


def parse(
    text: Union[str, bytes],
    filename: str = "<string>",
    *,
    base_dir: Union[str, bytes, os.PathLike[str], os.PathLike[bytes], None] = None,
) -> Policy:
    """Parses and checks a policy held in memory. `filename` names it in
    diagnostics; includes resolve against `base_dir` (default: the current
    directory). Raises ParseError carrying every diagnostic."""
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogateescape")
    elif isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
    else:
        raise TypeError(f"a policy is str or bytes, not {type(text).__name__}")
    base = b"" if base_dir is None else os.fsencode(base_dir)
    return _checked(_rulec.parse(data, filename, base))


def _raise_unreadable(path: str, document: _rulec.Document) -> None:
    """Raises the OSError a Python user expects for a root file that cannot be read."""
    os.stat(path)  # FileNotFoundError, PermissionError, ... with errno set
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    with open(path, "rb"):
        pass
    diags = document.diagnostics()
    raise OSError(diags[0]["message"] if diags else f"cannot read {path!r}")


def load(path: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]) -> Policy:
    """Reads, parses and checks a policy file and the files it includes.
    Raises OSError (FileNotFoundError, ...) when the file cannot be read and
    ParseError when it does not parse or check."""
    name = os.fspath(path)
    document = _rulec.load(os.fsencode(name))  # the file system's bytes, whatever their encoding
    if not document.read:
        _raise_unreadable(os.fsdecode(name), document)
    return _checked(document)


def targets() -> list[str]:
    """The compilation targets built into this rulec, e.g. ["nft", "pf"]."""
    return [name for name, _summary, _missing in _rulec.targets()]


def vpn_profiles() -> list[str]:
    """The built-in VPN profiles, e.g. ["ikev2", ..., "pptp", ...]."""
    return list(_rulec.vpn_profiles())
