"""Derived cross-module facts, one module per family (sockets, asyncness, threads).

Each is a set of functions over the `ProjectIndex` (``index.resolve``, ``index.mro``,
``index.attribute_values`` ...), cached per run with ``index.memo``. Rules ask these questions;
no rule walks the project on its own.
"""
