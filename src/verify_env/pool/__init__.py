"""Forked worker pools: hashing a known list of files (`hashing`), and a stream of work fed while
the inventory is still being read (`stream`)."""
