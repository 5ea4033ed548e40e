"""The longest text the registry takes in each input (decision 0010). The API's request models
and the service use these same numbers, so the CLI refuses what the API refuses."""

from __future__ import annotations

MAX_PARTNER = 40
"""A consumer, or the organisation that reads: a partner key."""
MAX_PROFILE = 100
"""A screening profile's name."""
MAX_TEXT = 200
"""A purpose, legal ground, role, actor (who reads or records), assignee or case key."""
MAX_OUTCOME = 500
"""What was done with a re-screen item."""
MAX_NOTE = 2000
"""A note kept on a re-screen item."""
