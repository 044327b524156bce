DROP TABLE deleted_users;
DROP TABLE expenses;
