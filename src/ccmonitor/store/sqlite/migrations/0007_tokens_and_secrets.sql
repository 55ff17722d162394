-- 0007_tokens_and_secrets: frozen at release; never edit (add a new migration instead).
CREATE TABLE tokens (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, attributes TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, last_used_at TEXT, revoked_at TEXT);

CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
