-- 0001_initial: frozen at release; never edit (add a new migration instead).
CREATE TABLE metrics (
  id INTEGER PRIMARY KEY,
  timestamp DATETIME NOT NULL,
  session_id TEXT,
  account_uuid TEXT,
  organization_id TEXT,
  terminal_type TEXT,
  app_version TEXT,
  user_id TEXT,
  user_email TEXT,
  metric_name TEXT NOT NULL,
  metric_value REAL NOT NULL,
  metric_unit TEXT,
  model TEXT,
  type TEXT,
  tool TEXT,
  decision TEXT,
  language TEXT,
  custom_attributes TEXT,
  dedup_key INTEGER NOT NULL
);

CREATE UNIQUE INDEX metrics_time ON metrics(timestamp, dedup_key);

CREATE INDEX metrics_name_time ON metrics(metric_name, timestamp);

CREATE INDEX metrics_session ON metrics(session_id, timestamp);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  timestamp DATETIME NOT NULL,
  session_id TEXT,
  account_uuid TEXT,
  organization_id TEXT,
  terminal_type TEXT,
  app_version TEXT,
  user_id TEXT,
  user_email TEXT,
  event_name TEXT NOT NULL,
  prompt_id TEXT,
  prompt TEXT,
  prompt_length INTEGER,
  tool_name TEXT,
  success TEXT,
  duration_ms INTEGER,
  error TEXT,
  decision TEXT,
  source TEXT,
  tool_parameters TEXT,
  model TEXT,
  cost_usd REAL,
  input_tokens INTEGER,
  output_tokens INTEGER,
  cache_read_tokens INTEGER,
  cache_creation_tokens INTEGER,
  status_code INTEGER,
  attempt INTEGER,
  trace_id TEXT,
  span_id TEXT,
  custom_attributes TEXT,
  dedup_key INTEGER NOT NULL
);

CREATE UNIQUE INDEX events_time ON events(timestamp, dedup_key);

CREATE INDEX events_name_time ON events(event_name, timestamp);

CREATE INDEX events_session ON events(session_id, timestamp);

CREATE INDEX events_prompt ON events(prompt_id);

CREATE TABLE spans (
  id INTEGER PRIMARY KEY,
  timestamp DATETIME NOT NULL,
  end_timestamp DATETIME NOT NULL,
  duration_ms REAL NOT NULL,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  name TEXT NOT NULL,
  kind INTEGER,
  status_code INTEGER,
  status_message TEXT,
  session_id TEXT,
  user_id TEXT,
  prompt_id TEXT,
  custom_attributes TEXT,
  span_events TEXT,
  links TEXT,
  dedup_key INTEGER NOT NULL
);

CREATE UNIQUE INDEX spans_time ON spans(timestamp, dedup_key);

CREATE INDEX spans_trace ON spans(trace_id);

CREATE INDEX spans_session ON spans(session_id, timestamp);

-- Last seen point of every CUMULATIVE series, so a restart never re-counts.
CREATE TABLE metric_series (
  series_key BLOB PRIMARY KEY,
  start_time_unix_nano INTEGER NOT NULL,
  last_time_unix_nano INTEGER NOT NULL,
  last_value REAL NOT NULL,
  updated_at DATETIME NOT NULL
) WITHOUT ROWID;
