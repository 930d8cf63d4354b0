"""Fault rules, pure: spelling, glob and method matching, rates under a seed, counts;
and the per-process rule cache: how fresh it is and how a count is spent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from payflow.domain.faults import (
    Fault,
    FaultKind,
    FaultRule,
    InvalidFault,
    RuleChooser,
    matches,
    parse_fault,
)
from payflow.faults.cache import CachedRules
from tests.support import START


def rule(path: str = "/api/orders*", **changes: object) -> FaultRule:
    base = FaultRule(
        id="flt_1", path=path, fault=Fault(FaultKind.ERROR_500), rate=1.0, created_at=START
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# Spelling


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("error-500", Fault(FaultKind.ERROR_500)),
        (" Error-503 ", Fault(FaultKind.ERROR_503)),
        ("timeout", Fault(FaultKind.TIMEOUT)),
        ("reset", Fault(FaultKind.RESET)),
        ("slow=250", Fault(FaultKind.SLOW, slow_ms=250)),
        ("slow=0", Fault(FaultKind.SLOW, slow_ms=0)),
        ("after-commit:reset", Fault(FaultKind.RESET, after_commit=True)),
        ("after-commit:error-500", Fault(FaultKind.ERROR_500, after_commit=True)),
        ("after-commit:timeout", Fault(FaultKind.TIMEOUT, after_commit=True)),
    ],
)
def test_every_accepted_spelling_parses_and_prints_back(text: str, fault: Fault) -> None:
    assert parse_fault(text) == fault
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(
    "text",
    [
        "",
        "explode",
        "slow",
        "slow=",
        "slow=-1",
        "slow=60001",
        "slow=1.5",
        "slow=١٢",  # digits, but not ASCII ones
        "after-commit:error-503",
        "after-commit:slow=10",
        "after-commit:",
        "after-commit:after-commit:reset",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidFault):
        parse_fault(text)


def test_the_metrics_label_leaves_the_delay_out() -> None:
    assert parse_fault("slow=250").label == "slow"
    assert parse_fault("after-commit:reset").label == "after-commit:reset"


# Matching


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("/api/orders*", "/api/orders", True),
        ("/api/orders*", "/api/orders/ORD-1/events", True),  # `*` crosses `/`
        ("/api/orders", "/api/orders/ORD-1", False),
        ("/api/orders/ORD-?", "/api/orders/ORD-7", True),
        ("/api/orders/ORD-?", "/api/orders/ORD-17", False),
        ("/api/*/refunds", "/api/orders/A/refunds", True),
        ("/api/orders/[AB]-1", "/api/orders/B-1", True),
        ("/api/orders/a-1", "/api/orders/A-1", False),  # order numbers keep their case
        ("/api/*", "/api/faults", False),  # the rules' own routes never meet a rule
        ("/api/*", "/api/faults/flt_1", False),
    ],
)
def test_the_glob_matches_the_path(glob: str, path: str, expected: bool) -> None:
    assert matches(rule(glob), "GET", path) is expected


def test_a_method_rule_matches_that_method_only() -> None:
    post_only = rule(method="POST")
    assert matches(post_only, "POST", "/api/orders")
    assert matches(post_only, "post", "/api/orders")
    assert not matches(post_only, "GET", "/api/orders")
    assert matches(rule(method=None), "DELETE", "/api/orders")


def test_a_rule_whose_count_ran_out_matches_nothing() -> None:
    assert matches(rule(count=2, remaining=1), "GET", "/api/orders")
    assert not matches(rule(count=2, remaining=0), "GET", "/api/orders")


# Rates under a seed


def decisions(seed: int, rate: float, n: int = 200) -> list[bool]:
    chooser = RuleChooser(seed)
    rules = [rule(rate=rate)]
    return [chooser.choose(rules, "POST", "/api/orders") is not None for _ in range(n)]


def test_the_same_seed_makes_the_same_decisions() -> None:
    assert decisions(7, 0.5) == decisions(7, 0.5)
    assert decisions(7, 0.5) != decisions(8, 0.5)


def test_rate_zero_never_fires_and_rate_one_always_does() -> None:
    assert not any(decisions(7, 0.0))
    assert all(decisions(7, 1.0))


def test_a_rate_fires_on_about_that_share() -> None:
    fired = decisions(7, 0.25, n=2000).count(True)
    assert 400 < fired < 600  # seeded: the exact count is fixed; the bounds say what it means


def test_requests_to_other_routes_do_not_shift_the_draws() -> None:
    plain = RuleChooser(7)
    mixed = RuleChooser(7)
    rules = [rule("/api/orders", rate=0.5)]
    seen_plain = [plain.choose(rules, "POST", "/api/orders") for _ in range(50)]
    seen_mixed = []
    for _ in range(50):
        assert mixed.choose(rules, "GET", "/api/events") is None
        seen_mixed.append(mixed.choose(rules, "POST", "/api/orders"))
    assert seen_plain == seen_mixed


def test_the_oldest_matching_rule_is_asked_first_then_the_next() -> None:
    chooser = RuleChooser(7)
    never, always = rule(id="flt_old", rate=0.0), rule(id="flt_new", rate=1.0)
    chosen = chooser.choose([never, always], "GET", "/api/orders")
    assert chosen is not None
    assert chosen.id == "flt_new"


# The cache


class FakeFaultStore:
    """The store's side of firing: a counted rule fires while its count lasts."""

    def __init__(self, rules: list[FaultRule]) -> None:
        self.rules = {r.id: r for r in rules}
        self.reads = 0

    async def all(self, limit: int) -> list[FaultRule]:
        self.reads += 1
        return list(self.rules.values())[:limit]

    async def fire(self, fault_rule: FaultRule) -> bool:
        stored = self.rules.get(fault_rule.id)
        if stored is None or stored.exhausted:
            return False
        self.rules[stored.id] = stored.fired()
        return True

    async def insert(self, fault_rule: FaultRule) -> None:
        self.rules[fault_rule.id] = fault_rule

    async def count(self) -> int:
        return len(self.rules)

    async def delete(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_the_cache_reads_the_rules_once_per_refresh_interval() -> None:
    store, ticks = FakeFaultStore([rule()]), Ticks()
    cache = CachedRules(refresh_seconds=1.0, seed=7, monotonic=ticks)
    for _ in range(5):
        assert await cache.fire_for(store, "GET", "/api/orders") is not None
    assert store.reads == 1
    await store.insert(rule(id="flt_2"))
    ticks.now += 0.9
    assert len(await cache.rules(store)) == 1  # not stale yet: the new rule is unseen
    ticks.now += 0.1
    assert len(await cache.rules(store)) == 2
    assert store.reads == 2
    cache.invalidate()  # a change through this process shows at once
    await cache.rules(store)
    assert store.reads == 3


@pytest.mark.anyio
async def test_a_counted_rule_fires_count_times_then_lets_requests_through() -> None:
    store = FakeFaultStore([rule(count=2, remaining=2)])
    cache = CachedRules(refresh_seconds=60.0, seed=7, monotonic=Ticks())
    fired = [await cache.fire_for(store, "GET", "/api/orders") for _ in range(4)]
    assert [f is not None for f in fired] == [True, True, False, False]
    assert store.rules["flt_1"].injected == 2
    assert store.reads == 1  # the cache kept its own count, no re-read needed


@pytest.mark.anyio
async def test_a_rule_spent_by_another_process_does_not_fire_here() -> None:
    store = FakeFaultStore([rule(count=1, remaining=1)])
    cache = CachedRules(refresh_seconds=60.0, seed=7, monotonic=Ticks())
    await cache.rules(store)
    await store.fire(store.rules["flt_1"])  # another process took the last firing
    assert await cache.fire_for(store, "GET", "/api/orders") is None
    assert await cache.fire_for(store, "GET", "/api/orders") is None
    assert store.reads == 2  # the refusal made this process re-read
