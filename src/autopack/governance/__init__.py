"""Docs-as-code governance: checks a repository against its own registry.

The registry is ``docs/PROJECT_INDEX.json`` in the checked repository
(``registry``). Checks share one ``view.RepoView`` (registry, git's file list,
parsed Markdown) and return ``findings.Report`` objects:

- ``drift.check_drift``: rules as data over living docs;
- ``links.check_links``: relative links and anchors, offline;
- ``summary.evaluate_summary``: the README block generated from the ledgers;
- ``workspace.check_workspace``: what may live where.

``contracts`` reads documented facts (endpoints, settings, command lines,
capability rows) for the contract tests. Nothing here writes to the work tree:
the CLI writes the refreshed README; only the disposable parse cache is
written, inside the git directory.
"""
