DROP TABLE deleted_users;
DROP TABLE profiles;
