-- Accounts as the billing and provisioning systems report them, for the voice and chat
-- playbooks on billing, data usage and SIM activation.
CREATE TABLE router.accounts (
    customer_id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    balance_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    due_date TEXT NOT NULL,
    data_used_mb BIGINT NOT NULL,
    data_allowance_mb BIGINT NOT NULL,
    sim_last4 TEXT NOT NULL,
    sim_status TEXT NOT NULL
);
