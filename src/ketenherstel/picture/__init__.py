"""The situational picture: series, timeline, recovery matrix, registers, briefing."""
