-- Outbound line shifts (issue #4 §4). When a provider refuses a send with
-- 429, the refused send takes the sender's next slot and every send already
-- waiting in line moves back by the same amount. Rather than rewriting every
-- waiting send, the sender's row keeps the total it has moved (`shift_ms`)
-- and each reservation the total at the time it was made
-- (`slot_shift_ms`): a send that wakes adds the difference to its slot.
ALTER TABLE send_slots ADD COLUMN shift_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbound_messages ADD COLUMN slot_shift_ms INTEGER;
