"""The linkage check's parts: per-file facts (`facts`), BLAS/LAPACK (`blas`), optional imports
(`optional`), confirmation by the system loader (`confirm`) and the scope edge (`consumers`).
The search order itself lives in `verify_env.loader`."""
