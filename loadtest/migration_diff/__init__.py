"""The migration diff: what moving each app from monolith to split services costs, measured from the trees.

``python -m loadtest.migration_diff`` (``make diff``) compares ``<app>/monolith`` with ``<app>/split`` (the split
holds what the move adds or changes, a file named like a monolith file changing it), plus the files outside the
app trees that the move needs (``proto/``, the split variants' k8s overlays and compose services, tests of
the split), and writes ``results/migration/``: per-category line counts, call sites touched, dependencies
added, a fixed + per-operation cost model, unified and side-by-side diffs, a walkthrough, charts, the
report section and the seed's claims beside our numbers.

Modules: ``categories`` (path pattern -> category table), ``lines`` (blank/comment/code counting and
line diffs), ``tree`` (the change model, each split file added or changed), ``deploy`` (kustomize closures, compose
services), ``testparts`` (the split's lines in test modules shared with the monolith), ``changes`` (every
unit of one app's move, moved functions), ``callsites`` (AST call-site comparison), ``deps`` (new
third-party imports and infrastructure), ``model`` (operations and the cost model), ``seed`` (the seed's
tables), ``results`` (the measured numbers), ``measure`` (all of it, per app), ``artifacts`` (diffs, HTML,
walkthrough), ``charts``, ``report`` (SECTION.md, from ``tables``, ``sections`` and ``claims``) and ``cli``.
"""
