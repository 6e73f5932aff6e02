"""Errors a user can cause. Each message says what went wrong and what to do about it."""


class ClusterLensError(Exception):
    """Base class for every error caused by input or settings rather than by a bug."""


class IntakeError(ClusterLensError):
    """The uploaded or named file cannot be used as a data set."""


class ModelUnavailableError(ClusterLensError):
    """A model named in the settings cannot be loaded here (not installed, no network)."""


class SettingsError(ClusterLensError):
    """A combination of settings that cannot work (k larger than the data, unknown algorithm...)."""


class RunCancelled(ClusterLensError):
    """The user asked a running job to stop; raised at the next safe point."""
