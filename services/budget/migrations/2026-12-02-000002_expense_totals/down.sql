CREATE INDEX expenses_spending ON expenses (user_id, occurred_on)
    INCLUDE (amount_minor, currency, category) WHERE NOT deleted;
DROP TABLE expense_totals;
