DROP TABLE admin_changes;
