"""What verify-env remembers between runs, outside the verified environment: where (`location`)
and the stat-keyed cache itself (`statcache`)."""
