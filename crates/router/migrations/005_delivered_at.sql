-- When an order was delivered, for the return window.
ALTER TABLE router.orders ADD COLUMN delivered_at TIMESTAMPTZ;
