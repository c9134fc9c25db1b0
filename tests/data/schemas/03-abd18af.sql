-- A database made by abd18af 2026-11-29 USSD channel: menu sessions through Africa's Talking and Hubtel, screens within ussd_max_chars in GSM-7, sessions in SQLite with resume after a drop; learnline chat --ussd
-- (tests/tools/schema_history.py)
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'learnline','m001_initial','2026-12-06 18:33:58.855479+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'learnline','m002_ussd_sessions','2026-12-06 18:33:58.859466+00:00');
CREATE TABLE answers (
            id INTEGER PRIMARY KEY,
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            question INTEGER NOT NULL,
            choice INTEGER NOT NULL,
            correct INTEGER NOT NULL,
            first_try INTEGER NOT NULL,
            at REAL NOT NULL
        );
CREATE TABLE courses (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            position INTEGER NOT NULL,
            meta TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
CREATE TABLE enrollments (
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
            position INTEGER NOT NULL DEFAULT 0,
            card INTEGER NOT NULL DEFAULT -1,
            quiz TEXT,
            started_at REAL NOT NULL,
            completed_at REAL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (phone, course_id)
        );
CREATE TABLE inbound (
            id INTEGER PRIMARY KEY,
            carrier_id TEXT NOT NULL,
            carrier_message_id TEXT NOT NULL,
            phone TEXT NOT NULL,
            recipient TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            received_at REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'received'
                CHECK (status IN ('received', 'processed', 'failed')),
            processed_at REAL,
            error TEXT,
            UNIQUE (carrier_id, carrier_message_id)
        );
CREATE TABLE learners (
            phone TEXT PRIMARY KEY,
            locale TEXT NOT NULL,
            carrier_id TEXT NOT NULL,
            stopped INTEGER NOT NULL DEFAULT 0,
            current_course TEXT REFERENCES courses(id) ON DELETE SET NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
CREATE TABLE lesson_results (
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            score INTEGER NOT NULL,
            total INTEGER NOT NULL,
            completed_at REAL NOT NULL,
            PRIMARY KEY (phone, course_id, lesson_id)
        );
CREATE TABLE lessons (
            course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
            lesson_id TEXT NOT NULL,
            locale TEXT NOT NULL,
            position INTEGER NOT NULL,
            body TEXT NOT NULL,
            hash TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (course_id, lesson_id, locale)
        );
CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            carrier_id TEXT NOT NULL,
            phone TEXT NOT NULL,
            body TEXT NOT NULL,
            inbound_id INTEGER REFERENCES inbound(id),
            to_stopped_ok INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN (
                'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at REAL NOT NULL,
            lease_until REAL,
            carrier_message_id TEXT,
            error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
CREATE TABLE send_attempts (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            at REAL NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'retry', 'failed', 'cancelled')),
            detail TEXT
        );
CREATE TABLE status_events (
            id INTEGER PRIMARY KEY,
            carrier_id TEXT NOT NULL,
            carrier_message_id TEXT NOT NULL,
            outbox_id INTEGER REFERENCES outbox(id) ON DELETE SET NULL,
            status TEXT NOT NULL,
            state TEXT,
            error_code TEXT,
            at REAL NOT NULL
        );
CREATE TABLE ussd_sessions (
            carrier_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            phone TEXT NOT NULL,
            service_code TEXT NOT NULL DEFAULT '',
            history TEXT NOT NULL DEFAULT '',
            view TEXT NOT NULL,
            screen TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'ended')),
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (carrier_id, session_id)
        );
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE INDEX answers_by_learner ON answers (phone, course_id, lesson_id);
CREATE INDEX inbound_pending ON inbound (status, received_at);
CREATE INDEX outbox_due ON outbox (carrier_id, status, due_at);
CREATE INDEX outbox_by_carrier_id ON outbox (carrier_id, carrier_message_id);
CREATE INDEX send_attempts_by_message ON send_attempts (outbox_id);
CREATE INDEX status_events_unmatched ON status_events (carrier_id, carrier_message_id)
            WHERE outbox_id IS NULL;
CREATE INDEX ussd_sessions_by_phone ON ussd_sessions (phone, updated_at);
CREATE INDEX ussd_sessions_by_expiry ON ussd_sessions (expires_at);
COMMIT;
