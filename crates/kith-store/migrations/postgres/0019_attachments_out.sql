-- Outbound attachments (issue #4): channels whose messages carry one file
-- each (Messenger, Instagram, Viber) send every file as a provider message
-- of its own; `provider_message_id` records the one that carried this file,
-- so that a send retried after a partial failure skips the files already
-- sent, and so that its status callbacks find the message
-- (`attachments_provider_message`). `attachments_unsent` serves the sweep that deletes uploads never
-- sent with a message (message_id NULL) after a day, oldest first.
ALTER TABLE attachments ADD COLUMN provider_message_id TEXT;
CREATE INDEX attachments_unsent ON attachments (created_ms) WHERE message_id IS NULL;
CREATE INDEX attachments_provider_message ON attachments (provider_message_id) WHERE provider_message_id IS NOT NULL;
