-- ListConversations filtered by assignee (`me`, `unassigned`, an agent), queue, status or
-- language. Each index leads with the tenant and the filter's column and ends with the
-- listing's sort (SLA due time, none last; priority, highest first; age; id), so a page is
-- read in order from where its cursor points and the read stops after page_size rows, however
-- many rows the tenant has. Without them such a listing reads all the tenant's rows and sorts
-- them. Filters without an index of their own (channel, priority, SLA at risk) read
-- conversations_by_urgency in order and skip what does not match.
CREATE INDEX conversations_by_assignee ON desk.conversations (
    tenant, assignee, (COALESCE(sla_due_at, 'infinity'::timestamptz)), (-priority), created_at, conversation_id
);
CREATE INDEX conversations_by_queue ON desk.conversations (
    tenant, queue, (COALESCE(sla_due_at, 'infinity'::timestamptz)), (-priority), created_at, conversation_id
);
CREATE INDEX conversations_by_status ON desk.conversations (
    tenant, status, (COALESCE(sla_due_at, 'infinity'::timestamptz)), (-priority), created_at, conversation_id
);
-- The primary subtag, lower case: `en` for `en-GB`.
CREATE INDEX conversations_by_language ON desk.conversations (
    tenant, (lower(split_part(language, '-', 1))),
    (COALESCE(sla_due_at, 'infinity'::timestamptz)), (-priority), created_at, conversation_id
);
