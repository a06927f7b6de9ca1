"""Helpers for testing against the sandbox: a server in a thread, an admin client, a notify receiver."""
from .client import AdminClient, AdminError, SyncAdminClient
from .receiver import NotifyReceiver
from .server import SandboxServer

__all__ = ["AdminClient", "AdminError", "NotifyReceiver", "SandboxServer", "SyncAdminClient"]
