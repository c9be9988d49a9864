"""tokenaudit: audit what AI-assistant token spend bought.

The public API is deliberately small: read events, load a policy, run an audit.
"""

__version__ = "0.1.0"
