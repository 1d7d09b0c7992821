-- Import dedupe for rows with neither an e-mail nor a phone (issue #3): they
-- match an existing contact by name + company, and a re-run of the same file
-- must find the contacts the first run made. Only contacts without any
-- handle are indexed, so contacts with handles (nearly all) cost no index
-- write; the import's statement repeats the predicate to use it.
CREATE INDEX contacts_name_only ON contacts (org_id, last_name, first_name) WHERE emails = '[]' AND phones = '[]';
