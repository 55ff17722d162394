-- 0003_writer_refreshes_rollups: frozen at release; never edit (add a new migration instead).
DROP TRIGGER IF EXISTS rollup_metrics_insert;

DROP TRIGGER IF EXISTS rollup_sessions_metrics_insert;

DROP TRIGGER IF EXISTS rollup_events_insert;

DROP TRIGGER IF EXISTS rollup_sessions_events_insert;
