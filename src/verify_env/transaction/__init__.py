"""A transaction seen from outside: two cheap snapshots and their difference (`snapshot`), and
the scope it implies — what changed and what that could break (`scope`)."""
