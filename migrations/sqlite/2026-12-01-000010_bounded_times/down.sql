SELECT 1; -- nothing to undo: the clamped values were unusable
