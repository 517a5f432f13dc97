"""The dynamic loader, modelled: ld.so's search order with ``$ORIGIN`` (`search`), its cache
(`ldcache`), confirmation by the target's own ld.so (`confirm`), and which files consume a
library (`consumers`, the transaction scope's edge)."""
