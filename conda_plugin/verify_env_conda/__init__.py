"""conda plugin for verify-env (hooks land with the conda issue)."""
