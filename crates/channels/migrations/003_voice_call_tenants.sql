-- A verified call is verified for the tenant whose number was dialled. Wrong PINs stay counted
-- per calling number across tenants: a number guessing at one company is slowed at all of them.
ALTER TABLE channels.voice_calls ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
