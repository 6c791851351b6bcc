#!/usr/bin/python3
"""Lints a policy, checks that PPTP gets through it, and writes nft and pf outputs.

    examples/lint_and_compile.py [POLICY] [--out DIR] [--via IN:OUT] [--peer ADDR]

By default it reads examples/office.rules, whose router forwards the office's
PPTP sessions from lan to wan (server 203.0.113.10), and writes
office.nft and office.pf into the current directory. Exit status: 0 when the
policy is clean, PPTP works and both outputs were written; 1 otherwise; 2 when
the policy cannot be read or parsed.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import warnings

import rulec

HERE = pathlib.Path(__file__).resolve().parent
OUTPUTS = {"nft": ".nft", "pf": ".pf"}


def write_atomically(path: pathlib.Path, text: str) -> None:
    """Never leaves a half-written configuration behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def lint(policy: rulec.Policy) -> bool:
    findings = policy.lint()
    for finding in findings:
        print(finding, end="", file=sys.stderr)
    errors = sum(f.severity == "error" for f in findings)
    print(f"lint: {len(findings)} findings, {errors} errors")
    return errors == 0


def check_pptp(policy: rulec.Policy, via: str | None, peer: str | None) -> bool:
    check = policy.check_vpn("pptp", via=via, peer=peer)
    print(f"VPN {check.vpn}: {check.description}")
    for row in check.rows:
        direction = f"{row.sender} -> {'client' if row.sender == 'server' else 'server'}"
        print(f"  {row.leg:<9} {direction:<17} {row.verdict}")
        if not row.passed and row.blocked_by is not None:
            print(f"    dropped by {row.blocked_by}; the user sees: {row.symptom}")
    print(f"VPN pptp {'works' if check.ok else 'does NOT work'}")
    return check.ok


def compile_outputs(policy: rulec.Policy, stem: str, out_dir: pathlib.Path) -> bool:
    available = rulec.targets()
    ok = True
    for target, suffix in OUTPUTS.items():
        if target not in available:
            print(f"{target}: not built into this rulec (targets: {', '.join(available) or 'none'})")
            ok = False
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", rulec.CompileWarning)
                text = policy.compile(target)
        except rulec.CompileError as e:
            print(e, end="", file=sys.stderr)
            print(f"{target}: cannot compile this policy")
            ok = False
            continue
        for w in caught:
            print(w.message, end="", file=sys.stderr)  # what the target only approximates
        path = out_dir / (stem + suffix)
        write_atomically(path, text)
        print(f"{target}: wrote {path} ({len(text.splitlines())} lines)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", nargs="?", default=str(HERE / "office.rules"))
    parser.add_argument("--out", default=".", help="directory for the outputs (default: .)")
    parser.add_argument("--via", help="a router forwards PPTP: IN:OUT (default for office.rules: lan:wan)")
    parser.add_argument("--peer", help="the PPTP server's address")
    args = parser.parse_args()
    is_office = args.policy == str(HERE / "office.rules")
    via = args.via or ("lan:wan" if is_office else None)
    peer = args.peer or ("203.0.113.10" if is_office else None)
    try:
        policy = rulec.load(args.policy)
    except rulec.ParseError as e:
        print(e, end="", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{args.policy}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"rulec {rulec.__version__}: {args.policy}, {len(policy.rules)} rules")
    clean = lint(policy)
    works = check_pptp(policy, via, peer)
    written = compile_outputs(policy, pathlib.Path(args.policy).stem, pathlib.Path(args.out))
    return 0 if clean and works and written else 1


if __name__ == "__main__":
    sys.exit(main())
