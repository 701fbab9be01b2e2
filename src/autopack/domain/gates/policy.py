"""Policy gate: a publish or list action waits until its provider's watched policy
pages are fetched, fresh and acknowledged.

Only providers under the policy monitor are gated (their unit declares policy
pages; the sandbox and the broker declare none). Such a provider with no
watched page left holds too: removing every page must not switch the gate off.
Each hold names what is wrong and the command that clears it.
"""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, hold
from autopack.domain.ledger import ActionCategory
from autopack.domain.policy import PageStanding, worst

NAME: Final = "policy"
GATED_CATEGORIES: Final = frozenset({ActionCategory.PUBLISH, ActionCategory.LIST})
CODES: Final = {
    PageStanding.MISSING: ErrorCode.POLICY_MISSING,
    PageStanding.STALE: ErrorCode.POLICY_STALE,
    PageStanding.UNACKNOWLEDGED: ErrorCode.POLICY_UNACKNOWLEDGED,
}


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g} days"


class PolicyGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        policy = facts.policy
        provider = facts.action.provider
        if facts.action.category not in GATED_CATEGORIES or not policy.watched:
            return allow(NAME)
        if not policy.pages:
            return hold(
                NAME,
                ErrorCode.POLICY_MISSING,
                f"no policy page of {provider} is watched: run "
                f"`autopack policy fetch --provider {provider}` (it watches the provider's "
                f"default pages on first use), or add one with "
                f"`autopack policy pages add {provider} URL` and fetch it",
            )
        standings = {page.url: page.standing(facts.now, policy.freshness) for page in policy.pages}
        first = worst(standings.values())
        if first is PageStanding.CURRENT:
            return self._packet_refs(facts)
        problems: list[str] = []
        fetch = f"`autopack policy fetch --provider {provider}`"
        for page in sorted(policy.pages, key=lambda p: p.url):
            standing = standings[page.url]
            if standing is PageStanding.MISSING:
                problems.append(f"{page.url} has no snapshot: run {fetch}")
            elif standing is PageStanding.STALE:
                window = _days(policy.freshness.total_seconds())
                problems.append(f"{page.url} was last checked more than {window} ago: run {fetch}")
            elif standing is PageStanding.UNACKNOWLEDGED:
                problems.append(
                    f"{page.url} changed: read `autopack policy diff {provider}`, then run "
                    f"`autopack policy ack {provider} --from {page.acknowledged_hash} "
                    f"--to {page.current_hash}`"
                )
        return hold(
            NAME,
            CODES[first],
            f"policy of {provider} not cleared ({first.value}): " + "; ".join(problems),
        )

    @staticmethod
    def _packet_refs(facts: GateFacts) -> GateResult:
        """A packet cites the snapshots it was built under: they must still be the
        current acknowledged ones, or the approval covered other rules."""
        policy = facts.policy
        if policy.packet_refs is None:
            return allow(NAME)
        current = {(page.url, page.current_hash) for page in policy.pages}
        cited = set(policy.packet_refs)
        if cited == current:
            return allow(NAME)
        provider = facts.action.provider
        outdated = sorted(url for url, digest in cited - current)
        missing = sorted(url for url, digest in current - cited)
        detail = "; ".join(
            part
            for part in (
                f"cited but no longer current: {', '.join(outdated)}" if outdated else "",
                f"current but not cited: {', '.join(missing)}" if missing else "",
            )
            if part
        )
        return hold(
            NAME,
            ErrorCode.PACKET_POLICY_NOT_CURRENT,
            f"the packet was built under other policy snapshots of {provider} than the "
            f"current acknowledged ones ({detail}): rebuild it with `autopack packets build`, "
            "propose the new packet and cancel this action",
        )
