DROP TABLE daily_counts_position;
DROP TABLE daily_counts;
