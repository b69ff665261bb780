-- Accounts an administrator disabled (`confab admin disable-user`): they cannot log in and
-- their tokens are revoked. Running nodes poll the disabled set (a few rows, through the
-- partial index) to drop cached sessions and sockets.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
CREATE INDEX users_disabled ON users(id) WHERE disabled_at IS NOT NULL;
