-- 0005_writer_heartbeat: frozen at release; never edit (add a new migration instead).
CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at DATETIME NOT NULL);
