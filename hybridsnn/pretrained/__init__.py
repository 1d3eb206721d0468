"""The pretrained zoo: trained models that ship with the package (docs/pretrained.md).

Each shipped model is a trimmed run directory under ``hybridsnn/pretrained/models/<name>/`` (its
``config.json``, ``results.json``, ``metrics.jsonl``, the checkpoint and a ``card.json`` model card), so
``test``, ``predict`` and ``plot`` read it exactly as they read a run of their own. ``manifest.json`` lists
every file of every model with its sha256; :func:`hybridsnn.pretrained.catalog.resolve` checks them before a
model is used.
"""
