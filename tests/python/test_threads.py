"""parse, lint and compile release the GIL: other Python threads run meanwhile,
and one Policy can be used from several threads at once."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import rulec


def big_policy(rules: int) -> str:
    lines = ["default block"]
    for i in range(rules):
        lines.append(
            f"pass in on lan{i % 7} protocol tcp, from 198.51.100.{(i % 64) * 4}/30 port {1024 + i % 60000}, "
            f"to 192.0.2.{i % 250 + 1} port {{ {i % 1000 + 1}, {2000 + i % 500} }} >> state"
        )
    return "\n".join(lines) + "\n"


def longest_stall(work: Callable[[], object]) -> tuple[float, float]:
    """Runs `work` in a thread while this thread ticks; returns (how long the
    work took, the longest gap between two ticks of this thread)."""
    started = threading.Event()
    took: list[float] = []

    def run() -> None:
        started.set()
        t0 = time.perf_counter()
        work()
        took.append(time.perf_counter() - t0)

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    gap, last = 0.0, time.perf_counter()
    while thread.is_alive():
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    thread.join()
    return took[0], gap


def releases_the_gil(work: Callable[[], object]) -> bool:
    """True when this thread kept running while `work` ran in another one.
    Holding the GIL would stall this thread for all of `work`; the machine's
    load may stall it briefly anyway, so up to three tries."""
    for _ in range(3):
        took, gap = longest_stall(work)
        assert took > 0.01, "too little work to measure"
        if gap < took / 2:
            return True
    return False


def test_parse_releases_the_gil() -> None:
    data = big_policy(30000).encode()
    assert releases_the_gil(lambda: rulec.parse(data))


def test_lint_and_compile_release_the_gil() -> None:
    policy = rulec.parse(big_policy(5000))
    assert releases_the_gil(policy.lint)
    # Targets warn where the kernel differs from the reference (RC515 here);
    # the filter is set before the worker thread starts.
    # Compiling 5,000 rules takes under 10 ms: a larger policy, so that the
    # work is long enough to measure.
    big = rulec.parse(big_policy(50000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rulec.CompileWarning)
        for target in rulec.targets()[:1]:
            assert releases_the_gil(lambda: big.compile(target))


def test_one_policy_from_many_threads() -> None:
    policy = rulec.parse(big_policy(300))
    expected_lint = policy.lint()
    expected = {}
    for target in rulec.targets():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rulec.CompileWarning)
                expected[target] = policy.compile(target)
        except rulec.CompileError:
            pass  # a target may refuse a policy (netsh cannot name interfaces)

    def work(_: int) -> bool:
        return policy.lint() == expected_lint and all(policy.compile(t) == out for t, out in expected.items())

    # Filters are process-wide: set here, before the threads start, never in them.
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=4) as pool:
        warnings.simplefilter("ignore", rulec.CompileWarning)
        assert all(pool.map(work, range(8)))
