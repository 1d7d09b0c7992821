-- CRM at scale (issue #3): indexes the 1M-record workspace needs.

-- Import and "company by name" look companies up case-insensitively.
CREATE INDEX companies_name ON companies (org_id, lower(name));
