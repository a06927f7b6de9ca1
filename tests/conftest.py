"""Shared test helpers. The `sandbox` and `notify_receiver` fixtures come from the project's own pytest plugin
(sandbox.testing.plugin, registered as an entry point), exactly as integrators use it."""
