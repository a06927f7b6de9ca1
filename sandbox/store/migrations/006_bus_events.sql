-- The live event stream shared by the processes of --workers N (core/bus_relay.py): what each process published,
-- read by the others while a browser watches one of them; only the newest few thousand are kept.
CREATE TABLE IF NOT EXISTS bus_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin INTEGER NOT NULL,  -- pid of the process that published it
    message TEXT NOT NULL     -- the bus message as JSON
);
