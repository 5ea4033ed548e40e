-- Closing an emergency route says why, as opening one does: every change of a channel's state
-- is kept with who, when and why. Routes closed before this migration have no reason (NULL).
ALTER TABLE emergency_routes ADD COLUMN closed_reason TEXT;
