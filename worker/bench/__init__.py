"""newsworker bench."""
