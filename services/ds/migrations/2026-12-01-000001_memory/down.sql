DROP TABLE deleted_users;
DROP TABLE expense_versions;
DROP TABLE rules;
