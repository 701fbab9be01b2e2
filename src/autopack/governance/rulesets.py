"""Built-in drift rule sets a registry switches on by name (``rule_sets``).

Autopack's own run layout and machine-path rules, kept once here so every
repository (this one included) uses the same patterns and a ten-line registry
gets them all.
"""

from __future__ import annotations

from autopack.governance.registry import DriftRule, Registry

RULE_SETS: dict[str, tuple[DriftRule, ...]] = {
    "machine-paths": (
        DriftRule(
            id="ABS-PATH",
            pattern=r"""/(?<![\w.~]/)(?:home|Users|root)/[\w.-]+|:\\Users\\(?<=[A-Za-z]:\\Users\\)""",
            scope="any",
            message="absolute path of one machine",
            fix="use a path relative to the repository or the workspace",
            reason="docs must work on every machine; "
            "a home directory in them is someone's laptop leaking in",
        ),
    ),
    "run-layout": (
        DriftRule(
            id="RUN-ID-BRACES",
            pattern=r"""\.autonomous_runs/\S*\$?\{run_id\}""",
            scope="any",
            message="run path with a {run_id} or ${run_id} template",
            fix="write the layout as .autonomous_runs/<project>/runs/<family>/<run_id>/",
            reason="one placeholder form, rendered from autopack.domain.layout.RUN_DIR_TEMPLATE",
        ),
        DriftRule(
            id="RUN-ID-HYPHEN",
            pattern=r"""<run-id>""",
            scope="any",
            message="<run-id> placeholder",
            fix="write <run_id>, as in autopack.domain.layout",
            reason="the identifier is run_id everywhere "
            "(CLI --run-id is the only hyphenated spelling)",
        ),
        DriftRule(
            id="RUN-LAYOUT-FLAT",
            pattern=r"""\.autonomous_runs/(?:<run_id>|<run-id>|\{run_id\}|\$\{run_id\}|\d{8}-\d{6})""",
            scope="any",
            message="flat run path without <project>/runs/<family>/",
            fix="use .autonomous_runs/<project>/runs/<family>/<run_id>/",
            reason="runs live only under their project and family (autopack.domain.layout)",
        ),
        DriftRule(
            id="RUN-LAYOUT-NO-FAMILY",
            pattern=r"""\.autonomous_runs/[^/\s`'"()\[\],;|]+/runs/(?:(?:<run_id>|<run-id>|\{run_id\}|\$\{run_id\}|\d{8}-\d{6})|(?!<family>/|batch_)[^/\s`'"()\[\],;|]+/(?:(?:artifacts|checkpoints|ledger|logs|outputs|phases|reports|state|tmp)(?:/|(?=[.:]?(?:[\s`'"()\[\],;|]|$)))|[^/\s`'"()\[\],;|]*\.[A-Za-z][A-Za-z0-9]{0,7}(?=[.:]?(?:[\s`'"()\[\],;|]|$))))""",
            scope="any",
            message="run path without the <family>/ segment",
            fix="use .autonomous_runs/<project>/runs/<family>/<run_id>/",
            reason="the family segment is part of every run path (autopack.domain.layout): "
            "a run id, a run's file or a run subfolder never sits directly under runs/<name>/",
        ),
        DriftRule(
            id="RUN-LAYOUT-NO-RUNS",
            pattern=r"""\.autonomous_runs/(?!_autopack/)[^/\s`]+/(?:<family>|<run_id>|<run-id>|\d{8}-\d{6})""",
            scope="any",
            message="run path without the runs/ segment",
            fix="use .autonomous_runs/<project>/runs/<family>/<run_id>/",
            reason="runs live under <project>/runs/ (autopack.domain.layout)",
        ),
    ),
}


def drift_rules_of(registry: Registry) -> list[DriftRule]:
    """The registry's own rules, then those of the rule sets it switches on, by id."""
    rules = list(registry.drift_rules or [])
    for name in registry.rule_sets:
        rules += RULE_SETS[name]
    return sorted(rules, key=lambda rule: rule.id)
