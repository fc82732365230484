"""newsworker evaluation."""
