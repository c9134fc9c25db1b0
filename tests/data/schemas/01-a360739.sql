-- A database made by a360739 2026-11-29 Core: packaging, lesson format and parser, store, engine, SMS channel, Twilio and console adapters, worker, CLI, en/fr catalogs
-- (tests/tools/schema_history.py)
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'learnline','m001_initial','2026-12-06 18:33:57.833569+00:00');
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
            error_code TEXT,
            at REAL NOT NULL
        );
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE INDEX answers_by_learner ON answers (phone, course_id, lesson_id);
CREATE INDEX inbound_pending ON inbound (status, received_at);
CREATE INDEX outbox_due ON outbox (carrier_id, status, due_at);
CREATE INDEX outbox_by_carrier_id ON outbox (carrier_id, carrier_message_id);
CREATE INDEX send_attempts_by_message ON send_attempts (outbox_id);
COMMIT;
