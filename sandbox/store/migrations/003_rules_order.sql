-- Rules a user adds go before the defaults shipped with the sandbox (the magic amounts), which carry
-- "shipped": true in their JSON. Databases made before this: mark the magic amounts as shipped, then renumber
-- positions 1..N with the user's rules first (in their old order) and the shipped ones after them.
UPDATE rules SET rule = json_set(rule, '$.shipped', json('true'))
 WHERE id IN ('magic-411-pays', 'magic-404-declined', 'magic-408-no-notify', 'magic-409-twice', 'magic-410-late',
              'magic-412-refund-processing');

CREATE TEMP TABLE rules_order AS
SELECT id, ROW_NUMBER() OVER (ORDER BY COALESCE(json_extract(rule, '$.shipped'), 0), position, id) AS n FROM rules;

UPDATE rules SET position = (SELECT n FROM rules_order WHERE rules_order.id = rules.id);

DROP TABLE rules_order;
