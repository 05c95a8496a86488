"""medlytt-pickup: how long agents let the phone ring before they answer."""

__version__ = "0.1.0"
