DROP TABLE deleted_users;
DROP TABLE alerts;
DROP TABLE expenses;
DROP TABLE budgets;
