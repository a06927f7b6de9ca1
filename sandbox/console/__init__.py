"""The web console and the admin API."""

CONSOLE = "/_sandbox"  # where the console lives; everything of the sandbox's own is under it
MAX_NOTIFY_DELAY_S = 30 * 86400  # the longest a console button or admin API call may put a notify off
