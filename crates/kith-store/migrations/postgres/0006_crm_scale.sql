-- CRM at scale (issue #3): indexes the 1M-record workspace needs. They are
-- chosen so the planner picks them even without statistics (a fresh SQLite
-- database has none): more equality columns win.

-- Import and "company by name" look companies up case-insensitively.
CREATE INDEX companies_name ON companies (org_id, lower(name));

-- "Owner = X, newest first" pages straight off the index, ties broken by id.
DROP INDEX contacts_owner;
CREATE INDEX contacts_owner ON contacts (org_id, owner_id, updated_ms, id);

-- A custom-field filter probes one record's value of one field: with the
-- value in the key the probe beats (field, value), which would walk every
-- record holding the value for each contact listed.
DROP INDEX custom_values_record;
CREATE INDEX custom_values_record ON custom_values (record_id, field_id, text_value);
