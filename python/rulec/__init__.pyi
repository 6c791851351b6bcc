# The public API of rulec. Checked against the installed package by
# tests/python/test_stubs.py (python3 -m mypy.stubtest rulec), so it cannot
# drift from the module. The objects are documented in _model.py.
import os
from functools import cached_property
from typing import Iterable, Optional, Union

from . import _rulec
from ._model import Clause as Clause
from ._model import CompileError as CompileError
from ._model import CompileWarning as CompileWarning
from ._model import Diagnostic as Diagnostic
from ._model import Error as Error
from ._model import Location as Location
from ._model import MatchingRule as MatchingRule
from ._model import Note as Note
from ._model import PacketError as PacketError
from ._model import ParseError as ParseError
from ._model import Rule as Rule
from ._model import Trace as Trace

__version__: str
__all__: list[str]

class Policy:
    def __init__(self, document: _rulec.Document) -> None: ...
    @cached_property
    def files(self) -> tuple[str, ...]: ...
    @cached_property
    def rules(self) -> tuple[Rule, ...]: ...
    @cached_property
    def diagnostics(self) -> tuple[Diagnostic, ...]: ...
    def lint(self) -> list[Diagnostic]: ...
    def compile(self, target: str, *, strict: bool = ...) -> str: ...
    def trace(self, packet: str) -> Trace: ...
    def trace_connection(self, packets: Iterable[str]) -> list[Trace]: ...
    def format(self) -> str: ...

def parse(
    text: Union[str, bytes],
    filename: str = ...,
    *,
    base_dir: Optional[Union[str, os.PathLike[str]]] = ...,
) -> Policy: ...
def load(path: Union[str, os.PathLike[str]]) -> Policy: ...
def targets() -> list[str]: ...
