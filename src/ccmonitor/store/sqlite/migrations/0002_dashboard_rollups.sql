-- 0002_dashboard_rollups: frozen at release; never edit (add a new migration instead).
CREATE TABLE rollup_sessions (session_id TEXT PRIMARY KEY, first_ts TEXT, last_ts TEXT, user TEXT,
  terminal_type TEXT, app_version TEXT, custom_attributes TEXT) WITHOUT ROWID;

CREATE INDEX rollup_sessions_last ON rollup_sessions(last_ts);

CREATE INDEX events_durations ON events(event_name, timestamp, model, tool_name, duration_ms);

CREATE INDEX metrics_user ON metrics(COALESCE(user_email, account_uuid, user_id), timestamp);

CREATE INDEX events_user ON events(COALESCE(user_email, account_uuid, user_id), timestamp);

CREATE TABLE rollup_metrics (hour TEXT NOT NULL, metric_name TEXT NOT NULL, type TEXT NOT NULL, model TEXT NOT NULL, tool TEXT NOT NULL, decision TEXT NOT NULL, language TEXT NOT NULL,
  value REAL NOT NULL, records INTEGER NOT NULL, PRIMARY KEY (hour, metric_name, type, model, tool, decision, language)) WITHOUT ROWID;

INSERT INTO rollup_metrics SELECT substr(timestamp, 1, 13) || ':00:00.000',
  COALESCE(metric_name, ''), COALESCE(type, ''), COALESCE(model, ''), COALESCE(tool, ''), COALESCE(decision, ''), COALESCE(language, ''), SUM(metric_value), COUNT(*)
  FROM metrics GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TRIGGER rollup_metrics_insert AFTER INSERT ON metrics BEGIN INSERT INTO rollup_metrics VALUES (substr(NEW.timestamp, 1, 13) || ':00:00.000', COALESCE(NEW.metric_name, ''), COALESCE(NEW.type, ''), COALESCE(NEW.model, ''), COALESCE(NEW.tool, ''), COALESCE(NEW.decision, ''), COALESCE(NEW.language, ''), NEW.metric_value, 1) ON CONFLICT DO UPDATE SET value = value + excluded.value, records = records + 1; END;

CREATE TRIGGER rollup_metrics_delete AFTER DELETE ON metrics BEGIN UPDATE rollup_metrics SET value = value - OLD.metric_value, records = records - 1 WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND metric_name = COALESCE(OLD.metric_name, '') AND type = COALESCE(OLD.type, '') AND model = COALESCE(OLD.model, '') AND tool = COALESCE(OLD.tool, '') AND decision = COALESCE(OLD.decision, '') AND language = COALESCE(OLD.language, ''); DELETE FROM rollup_metrics WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND metric_name = COALESCE(OLD.metric_name, '') AND type = COALESCE(OLD.type, '') AND model = COALESCE(OLD.model, '') AND tool = COALESCE(OLD.tool, '') AND decision = COALESCE(OLD.decision, '') AND language = COALESCE(OLD.language, '') AND records <= 0; END;

CREATE TRIGGER rollup_metrics_update AFTER UPDATE OF timestamp, metric_name, type, model, tool, decision, language, metric_value ON metrics BEGIN UPDATE rollup_metrics SET value = value - OLD.metric_value, records = records - 1 WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND metric_name = COALESCE(OLD.metric_name, '') AND type = COALESCE(OLD.type, '') AND model = COALESCE(OLD.model, '') AND tool = COALESCE(OLD.tool, '') AND decision = COALESCE(OLD.decision, '') AND language = COALESCE(OLD.language, ''); DELETE FROM rollup_metrics WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND metric_name = COALESCE(OLD.metric_name, '') AND type = COALESCE(OLD.type, '') AND model = COALESCE(OLD.model, '') AND tool = COALESCE(OLD.tool, '') AND decision = COALESCE(OLD.decision, '') AND language = COALESCE(OLD.language, '') AND records <= 0; INSERT INTO rollup_metrics VALUES (substr(NEW.timestamp, 1, 13) || ':00:00.000', COALESCE(NEW.metric_name, ''), COALESCE(NEW.type, ''), COALESCE(NEW.model, ''), COALESCE(NEW.tool, ''), COALESCE(NEW.decision, ''), COALESCE(NEW.language, ''), NEW.metric_value, 1) ON CONFLICT DO UPDATE SET value = value + excluded.value, records = records + 1; END;

INSERT INTO rollup_sessions SELECT session_id, MIN(timestamp), MAX(timestamp),
  MAX(COALESCE(user_email, account_uuid, user_id)), MAX(terminal_type), MAX(app_version), MIN(custom_attributes)
  FROM metrics WHERE session_id IS NOT NULL AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total') GROUP BY session_id
  ON CONFLICT DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts);

CREATE TRIGGER rollup_sessions_metrics_insert AFTER INSERT ON metrics
  WHEN NEW.session_id IS NOT NULL AND NEW.metric_name IN ('claude_code.session.count', 'claude_code.active_time.total') BEGIN INSERT INTO rollup_sessions VALUES (NEW.session_id, NEW.timestamp, NEW.timestamp, COALESCE(NEW.user_email, NEW.account_uuid, NEW.user_id), NEW.terminal_type, NEW.app_version, NEW.custom_attributes) ON CONFLICT DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts), user = COALESCE(user, excluded.user); END;

CREATE TRIGGER rollup_sessions_metrics_delete AFTER DELETE ON metrics
  WHEN OLD.session_id IS NOT NULL AND OLD.metric_name IN ('claude_code.session.count', 'claude_code.active_time.total') BEGIN UPDATE rollup_sessions SET first_ts = (SELECT MIN(t) FROM (SELECT (SELECT MIN(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MIN(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)), last_ts = (SELECT MAX(t) FROM (SELECT (SELECT MAX(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MAX(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)) WHERE session_id = OLD.session_id AND (OLD.timestamp <= first_ts OR OLD.timestamp >= last_ts); DELETE FROM rollup_sessions WHERE session_id = OLD.session_id AND first_ts IS NULL; END;

CREATE TRIGGER rollup_sessions_metrics_update AFTER UPDATE OF timestamp, session_id ON metrics BEGIN
  UPDATE rollup_sessions SET first_ts = (SELECT MIN(t) FROM (SELECT (SELECT MIN(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MIN(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)), last_ts = (SELECT MAX(t) FROM (SELECT (SELECT MAX(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MAX(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)) WHERE session_id = OLD.session_id AND (OLD.timestamp <= first_ts OR OLD.timestamp >= last_ts); DELETE FROM rollup_sessions WHERE session_id = OLD.session_id AND first_ts IS NULL; INSERT INTO rollup_sessions SELECT NEW.session_id, NEW.timestamp, NEW.timestamp,
  NULL, NULL, NULL, NULL WHERE NEW.session_id IS NOT NULL AND NEW.metric_name IN ('claude_code.session.count', 'claude_code.active_time.total') ON CONFLICT DO UPDATE SET
  first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts); END;

CREATE TABLE rollup_events (hour TEXT NOT NULL, event_name TEXT NOT NULL, model TEXT NOT NULL, tool_name TEXT NOT NULL, success TEXT NOT NULL, decision TEXT NOT NULL,
  n REAL NOT NULL, records INTEGER NOT NULL, PRIMARY KEY (hour, event_name, model, tool_name, success, decision)) WITHOUT ROWID;

INSERT INTO rollup_events SELECT substr(timestamp, 1, 13) || ':00:00.000',
  COALESCE(event_name, ''), COALESCE(model, ''), COALESCE(tool_name, ''), COALESCE(success, ''), COALESCE(decision, ''), SUM(1), COUNT(*)
  FROM events GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER rollup_events_insert AFTER INSERT ON events BEGIN INSERT INTO rollup_events VALUES (substr(NEW.timestamp, 1, 13) || ':00:00.000', COALESCE(NEW.event_name, ''), COALESCE(NEW.model, ''), COALESCE(NEW.tool_name, ''), COALESCE(NEW.success, ''), COALESCE(NEW.decision, ''), 1, 1) ON CONFLICT DO UPDATE SET n = n + excluded.n, records = records + 1; END;

CREATE TRIGGER rollup_events_delete AFTER DELETE ON events BEGIN UPDATE rollup_events SET n = n - 1, records = records - 1 WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND event_name = COALESCE(OLD.event_name, '') AND model = COALESCE(OLD.model, '') AND tool_name = COALESCE(OLD.tool_name, '') AND success = COALESCE(OLD.success, '') AND decision = COALESCE(OLD.decision, ''); DELETE FROM rollup_events WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND event_name = COALESCE(OLD.event_name, '') AND model = COALESCE(OLD.model, '') AND tool_name = COALESCE(OLD.tool_name, '') AND success = COALESCE(OLD.success, '') AND decision = COALESCE(OLD.decision, '') AND records <= 0; END;

CREATE TRIGGER rollup_events_update AFTER UPDATE OF timestamp, event_name, model, tool_name, success, decision ON events BEGIN UPDATE rollup_events SET n = n - 1, records = records - 1 WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND event_name = COALESCE(OLD.event_name, '') AND model = COALESCE(OLD.model, '') AND tool_name = COALESCE(OLD.tool_name, '') AND success = COALESCE(OLD.success, '') AND decision = COALESCE(OLD.decision, ''); DELETE FROM rollup_events WHERE hour = substr(OLD.timestamp, 1, 13) || ':00:00.000' AND event_name = COALESCE(OLD.event_name, '') AND model = COALESCE(OLD.model, '') AND tool_name = COALESCE(OLD.tool_name, '') AND success = COALESCE(OLD.success, '') AND decision = COALESCE(OLD.decision, '') AND records <= 0; INSERT INTO rollup_events VALUES (substr(NEW.timestamp, 1, 13) || ':00:00.000', COALESCE(NEW.event_name, ''), COALESCE(NEW.model, ''), COALESCE(NEW.tool_name, ''), COALESCE(NEW.success, ''), COALESCE(NEW.decision, ''), 1, 1) ON CONFLICT DO UPDATE SET n = n + excluded.n, records = records + 1; END;

INSERT INTO rollup_sessions SELECT session_id, MIN(timestamp), MAX(timestamp),
  MAX(COALESCE(user_email, account_uuid, user_id)), MAX(terminal_type), MAX(app_version), MIN(custom_attributes)
  FROM events WHERE session_id IS NOT NULL AND event_name = 'claude_code.user_prompt' GROUP BY session_id
  ON CONFLICT DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts);

CREATE TRIGGER rollup_sessions_events_insert AFTER INSERT ON events
  WHEN NEW.session_id IS NOT NULL AND NEW.event_name = 'claude_code.user_prompt' BEGIN INSERT INTO rollup_sessions VALUES (NEW.session_id, NEW.timestamp, NEW.timestamp, COALESCE(NEW.user_email, NEW.account_uuid, NEW.user_id), NEW.terminal_type, NEW.app_version, NEW.custom_attributes) ON CONFLICT DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts), user = COALESCE(user, excluded.user); END;

CREATE TRIGGER rollup_sessions_events_delete AFTER DELETE ON events
  WHEN OLD.session_id IS NOT NULL AND OLD.event_name = 'claude_code.user_prompt' BEGIN UPDATE rollup_sessions SET first_ts = (SELECT MIN(t) FROM (SELECT (SELECT MIN(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MIN(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)), last_ts = (SELECT MAX(t) FROM (SELECT (SELECT MAX(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MAX(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)) WHERE session_id = OLD.session_id AND (OLD.timestamp <= first_ts OR OLD.timestamp >= last_ts); DELETE FROM rollup_sessions WHERE session_id = OLD.session_id AND first_ts IS NULL; END;

CREATE TRIGGER rollup_sessions_events_update AFTER UPDATE OF timestamp, session_id ON events BEGIN
  UPDATE rollup_sessions SET first_ts = (SELECT MIN(t) FROM (SELECT (SELECT MIN(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MIN(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)), last_ts = (SELECT MAX(t) FROM (SELECT (SELECT MAX(timestamp) FROM metrics WHERE session_id = OLD.session_id AND metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')) AS t UNION ALL SELECT (SELECT MAX(timestamp) FROM events WHERE session_id = OLD.session_id AND event_name = 'claude_code.user_prompt') AS t)) WHERE session_id = OLD.session_id AND (OLD.timestamp <= first_ts OR OLD.timestamp >= last_ts); DELETE FROM rollup_sessions WHERE session_id = OLD.session_id AND first_ts IS NULL; INSERT INTO rollup_sessions SELECT NEW.session_id, NEW.timestamp, NEW.timestamp,
  NULL, NULL, NULL, NULL WHERE NEW.session_id IS NOT NULL AND NEW.event_name = 'claude_code.user_prompt' ON CONFLICT DO UPDATE SET
  first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts); END;
