# The public API of rulec. Checked against the installed package by
# tests/python/test_stubs.py (python3 -m mypy.stubtest rulec), so it cannot
# drift from the module. The objects are documented in _model.py.
import os
from typing import Iterable, Optional, Sequence, Union

from . import _rulec
from ._model import Clause as Clause
from ._model import CompileError as CompileError
from ._model import CompileWarning as CompileWarning
from ._model import Default as Default
from ._model import Diagnostic as Diagnostic
from ._model import Error as Error
from ._model import Hop as Hop
from ._model import Location as Location
from ._model import MatchingRule as MatchingRule
from ._model import Note as Note
from ._model import PacketError as PacketError
from ._model import ParseError as ParseError
from ._model import Rule as Rule
from ._model import Trace as Trace
from ._model import VpnCheck as VpnCheck
from ._model import VpnError as VpnError
from ._model import VpnRow as VpnRow

__version__: str
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
    def __init__(self, document: _rulec.Document) -> None: ...
    @property
    def files(self) -> tuple[str, ...]: ...
    @property
    def rules(self) -> tuple[Rule, ...]: ...
    @property
    def defaults(self) -> tuple[Default, Default]: ...
    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]: ...
    def lint(self) -> list[Diagnostic]: ...
    def compile(self, target: str, *, strict: bool = ...) -> str: ...
    def trace(self, packet: str) -> Trace: ...
    def trace_connection(self, packets: Iterable[str]) -> list[Trace]: ...
    def check_vpn(
        self,
        name: str,
        *,
        role: str = ...,
        via: Union[str, Sequence[str], None] = ...,
        peer: Optional[str] = ...,
        port: Optional[int] = ...,
        on: Optional[str] = ...,
    ) -> VpnCheck: ...
    def vpn_profiles(self) -> list[str]: ...
    def format(self) -> str: ...

def parse(
    text: Union[str, bytes],
    filename: str = ...,
    *,
    base_dir: Union[str, bytes, os.PathLike[str], os.PathLike[bytes], None] = ...,
) -> Policy: ...
def load(path: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]) -> Policy: ...
def targets() -> list[str]: ...
def vpn_profiles() -> list[str]: ...
