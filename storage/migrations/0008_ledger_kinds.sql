-- A ledger row's kind: 'earn' counts toward levels and boards; 'spend' takes points; 'refund' gives spent
-- points back and is no earning. Refunds used to count as earnings: the derived tables are corrected.
ALTER TABLE points_ledger ADD COLUMN kind TEXT NOT NULL DEFAULT 'earn';
UPDATE points_ledger SET kind = 'spend' WHERE delta < 0;
UPDATE points_ledger SET kind = 'refund' WHERE reason LIKE 'refund:%';
UPDATE points_balance SET earned = earned - COALESCE((
    SELECT SUM(l.delta) FROM points_ledger l
    WHERE l.group_id = points_balance.group_id AND l.user_id = points_balance.user_id AND l.kind = 'refund'
), 0);
UPDATE points_period SET earned = earned - COALESCE((
    SELECT SUM(l.delta) FROM points_ledger l
    WHERE l.group_id = points_period.group_id AND l.user_id = points_period.user_id AND l.kind = 'refund'
      AND (points_period.period = 'd:' || l.day
           OR points_period.period = 'm:' || SUBSTR(l.day, 1, 7)
           OR points_period.period = 'w:' || {monday_of_day})
), 0);
