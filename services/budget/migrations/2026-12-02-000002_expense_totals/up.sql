-- Spending read from per-day totals instead of the expenses themselves: a month of a user is
-- at most 31 days × the categories × the currencies they used, however many expenses, so
-- ListBudgets and every crossing check read hundreds of rows, not tens of thousands. The
-- projection keeps it in the transaction that changes an expense (minus the old facts, plus
-- the new).
CREATE TABLE expense_totals (
    user_id UUID NOT NULL,
    occurred_on DATE NOT NULL,
    currency TEXT NOT NULL,
    category TEXT NOT NULL,
    total BIGINT NOT NULL,
    count BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (user_id, occurred_on, currency, category)
);

INSERT INTO expense_totals (user_id, occurred_on, currency, category, total, count)
SELECT user_id, occurred_on, currency, category, SUM(amount_minor), COUNT(*)
FROM expenses WHERE NOT deleted
GROUP BY user_id, occurred_on, currency, category;

-- Spending no longer scans expenses: one index fewer to write per change.
DROP INDEX expenses_spending;
