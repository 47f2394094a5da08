-- Wrong SIM digits per customer, across conversations: the activation playbook stops guessing
-- after a few in a day.
CREATE TABLE router.sim_refusals (
    event_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sim_refusals_by_customer ON router.sim_refusals (customer_id, at);
