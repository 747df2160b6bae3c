DROP SEQUENCE events_provisional;
