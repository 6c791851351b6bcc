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
import os
import warnings
from functools import cached_property
from typing import Iterable, Optional, Union

from . import _rulec
from ._model import (
    Clause,
    CompileError,
    CompileWarning,
    Diagnostic,
    Error,
    Location,
    MatchingRule,
    Note,
    PacketError,
    ParseError,
    Rule,
    Trace,
)

__version__: str = _rulec.version

__all__ = [
    "Clause",
    "CompileError",
    "CompileWarning",
    "Diagnostic",
    "Error",
    "Location",
    "MatchingRule",
    "Note",
    "PacketError",
    "ParseError",
    "Policy",
    "Rule",
    "Trace",
    "__version__",
    "load",
    "parse",
    "targets",
]


class Policy:
    """A policy that parsed and checked without errors. Made by rulec.parse()
    or rulec.load(); never changed afterwards, so it may be used from several
    threads (parse, lint and compile release the GIL)."""

    def __init__(self, document: _rulec.Document) -> None:
        if not document.ok:
            raise ValueError("rulec.Policy is made by rulec.parse() or rulec.load()")
        self._doc = document

    def __repr__(self) -> str:
        return f"<rulec.Policy {self.files[0]!r}: {len(self.rules)} rules>"

    @cached_property
    def files(self) -> tuple[str, ...]:
        """Every file read: the root first, then included files."""
        return tuple(self._doc.files)

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule as written, in reading order (included files expanded)."""
        return tuple(Rule._from(r) for r in self._doc.rules())

    @cached_property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Warnings from reading and checking the policy (lint() includes them)."""
        return tuple(Diagnostic._from(d) for d in self._doc.diagnostics())

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
            warnings.warn(CompileWarning(d.text), stacklevel=2)
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

    def format(self) -> str:
        """The root file in canonical formatting (what `rulec fmt` writes)."""
        return self._doc.format()


def _checked(document: _rulec.Document) -> Policy:
    if not document.ok:
        diags = [Diagnostic._from(d) for d in document.diagnostics()]
        raise ParseError(document.render(), diags)
    return Policy(document)


def parse(
    text: Union[str, bytes],
    filename: str = "<string>",
    *,
    base_dir: Optional[Union[str, os.PathLike[str]]] = None,
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
    base = "" if base_dir is None else os.fspath(base_dir)
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


def load(path: Union[str, os.PathLike[str]]) -> Policy:
    """Reads, parses and checks a policy file and the files it includes.
    Raises OSError (FileNotFoundError, ...) when the file cannot be read and
    ParseError when it does not parse or check."""
    name = os.fspath(path)
    document = _rulec.load(name)
    if not document.read:
        _raise_unreadable(name, document)
    return _checked(document)


def targets() -> list[str]:
    """The compilation targets built into this rulec, e.g. ["nft", "pf"]."""
    return [name for name, _summary, _missing in _rulec.targets()]
