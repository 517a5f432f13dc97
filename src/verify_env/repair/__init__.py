"""From findings to repairs: which installer can mend what (`plan`), and carrying the plan out
through those installers, then verifying again (`execute`). ``verify-env --fix``, ``pipv
repair`` and the conda doctor's fixer all use it."""
