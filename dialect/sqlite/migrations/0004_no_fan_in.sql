-- only if fan_in
SELECT 1
