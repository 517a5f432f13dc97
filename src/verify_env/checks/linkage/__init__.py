"""The linkage check (`check`) and its parts: per-file facts (`facts`), BLAS/LAPACK names and
providers (`blas`, `judge`), the opt-in numeric probe (`blas_probe`), which compiled modules
are imported only optionally (`optional`) and the process a module is loaded into (`process`).
The loader model they rest on (ld.so's search order, ld.so.cache, confirmation by the target's
own loader) is `verify_env.loader`."""
