"""The web console and the admin API."""

CONSOLE = "/_sandbox"  # where the console lives; everything of the sandbox's own is under it
