"""Where a run's settings come from: the one precedence of command line, variables and files
(`config`), accepted findings and baselines (`accept`), and option values every front door
validates alike (`argtypes`)."""
