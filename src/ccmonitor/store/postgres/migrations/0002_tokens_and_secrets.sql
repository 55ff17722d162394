-- 0002_tokens_and_secrets: frozen at release; never edit (add a new migration instead).
-- Times are UTC text in the stored form ('YYYY-MM-DD HH:MM:SS.mmm'), as SQLite's twin keeps them.
CREATE TABLE tokens (name text PRIMARY KEY, token_hash text NOT NULL UNIQUE, role text NOT NULL, attributes text NOT NULL DEFAULT '{}', created_at text NOT NULL, last_used_at text, revoked_at text);

CREATE TABLE secrets (name text PRIMARY KEY, value text NOT NULL);
