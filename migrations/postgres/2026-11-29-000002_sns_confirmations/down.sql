DROP TABLE sns_confirmations;
