DROP TABLE feed_consumers;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
