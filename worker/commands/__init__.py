"""newsworker commands."""
