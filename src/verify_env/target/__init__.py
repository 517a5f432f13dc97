"""The interpreter being verified: which one (`interpreter`, nothing run), the facts gathered
inside it (`introspect`, a script any CPython 3.8+ runs), and the `Target` built from them
(`model`)."""
