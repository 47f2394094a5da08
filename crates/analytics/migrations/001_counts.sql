CREATE TABLE analytics.counts (
    metric TEXT NOT NULL,
    channel TEXT NOT NULL,
    intent TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (metric, channel, intent)
);
