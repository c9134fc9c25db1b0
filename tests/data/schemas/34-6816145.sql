-- A database made by 6816145 2026-12-08 A course taken again is a new attempt (m039); lessons go on to the next unscored one; fixes from the diff's review
-- (tests/tools/schema_history.py)
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'learnline','m001_initial','2026-12-08 03:28:27.097101+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'learnline','m002_ussd_sessions','2026-12-08 03:28:27.100299+00:00');
INSERT INTO "_sqlite_migrations" VALUES(3,'learnline','m003_web','2026-12-08 03:28:27.102445+00:00');
INSERT INTO "_sqlite_migrations" VALUES(4,'learnline','m004_inbound_meta','2026-12-08 03:28:27.103957+00:00');
INSERT INTO "_sqlite_migrations" VALUES(5,'learnline','m005_outbox_by_status','2026-12-08 03:28:27.105069+00:00');
INSERT INTO "_sqlite_migrations" VALUES(6,'learnline','m006_partial_indexes','2026-12-08 03:28:27.106351+00:00');
INSERT INTO "_sqlite_migrations" VALUES(7,'learnline','m007_learning_over_time','2026-12-08 03:28:27.113457+00:00');
INSERT INTO "_sqlite_migrations" VALUES(8,'learnline','m008_events','2026-12-08 03:28:27.115536+00:00');
INSERT INTO "_sqlite_migrations" VALUES(9,'learnline','m009_content_version','2026-12-08 03:28:27.120752+00:00');
INSERT INTO "_sqlite_migrations" VALUES(10,'learnline','m010_repair_edited_migrations','2026-12-08 03:28:27.122645+00:00');
INSERT INTO "_sqlite_migrations" VALUES(11,'learnline','m011_held_messages','2026-12-08 03:28:27.124771+00:00');
INSERT INTO "_sqlite_migrations" VALUES(12,'learnline','m012_course_completions','2026-12-08 03:28:27.126862+00:00');
INSERT INTO "_sqlite_migrations" VALUES(13,'learnline','m013_outbox_carrier_ref','2026-12-08 03:28:27.130385+00:00');
INSERT INTO "_sqlite_migrations" VALUES(14,'learnline','m014_web_sessions','2026-12-08 03:28:27.132988+00:00');
INSERT INTO "_sqlite_migrations" VALUES(15,'learnline','m015_web_sessions_by_expiry','2026-12-08 03:28:27.135164+00:00');
INSERT INTO "_sqlite_migrations" VALUES(16,'learnline','m016_lesson_costs','2026-12-08 03:28:27.138181+00:00');
INSERT INTO "_sqlite_migrations" VALUES(17,'learnline','m017_lesson_by_link','2026-12-08 03:28:27.141699+00:00');
INSERT INTO "_sqlite_migrations" VALUES(18,'learnline','m018_outbox_payload','2026-12-08 03:28:27.144158+00:00');
INSERT INTO "_sqlite_migrations" VALUES(19,'learnline','m019_activity_whatsapp','2026-12-08 03:28:27.148807+00:00');
INSERT INTO "_sqlite_migrations" VALUES(20,'learnline','m022_whatsapp_figures','2026-12-08 03:28:27.153467+00:00');
INSERT INTO "_sqlite_migrations" VALUES(21,'learnline','m020_inbound_by_sender','2026-12-08 03:28:27.155664+00:00');
INSERT INTO "_sqlite_migrations" VALUES(22,'learnline','m021_fallback_and_channel','2026-12-08 03:28:27.159473+00:00');
INSERT INTO "_sqlite_migrations" VALUES(23,'learnline','m025_staff_accounts','2026-12-08 03:28:27.161828+00:00');
INSERT INTO "_sqlite_migrations" VALUES(24,'learnline','m026_questions','2026-12-08 03:28:27.163968+00:00');
INSERT INTO "_sqlite_migrations" VALUES(25,'learnline','m028_question_sync','2026-12-08 03:28:27.168469+00:00');
INSERT INTO "_sqlite_migrations" VALUES(26,'learnline','m029_tutor_inbox','2026-12-08 03:28:27.174046+00:00');
INSERT INTO "_sqlite_migrations" VALUES(27,'learnline','m030_programs','2026-12-08 03:28:27.178452+00:00');
INSERT INTO "_sqlite_migrations" VALUES(28,'learnline','m031_cohorts','2026-12-08 03:28:27.182948+00:00');
INSERT INTO "_sqlite_migrations" VALUES(29,'learnline','m032_cohort_uid','2026-12-08 03:28:27.186961+00:00');
INSERT INTO "_sqlite_migrations" VALUES(30,'learnline','m034_certificate_badges','2026-12-08 03:28:27.192915+00:00');
INSERT INTO "_sqlite_migrations" VALUES(31,'learnline','m035_lrs_voids','2026-12-08 03:28:27.195410+00:00');
INSERT INTO "_sqlite_migrations" VALUES(32,'learnline','m036_certificate_lookups','2026-12-08 03:28:27.197721+00:00');
INSERT INTO "_sqlite_migrations" VALUES(33,'learnline','m037_questions_by_time','2026-12-08 03:28:27.199778+00:00');
INSERT INTO "_sqlite_migrations" VALUES(34,'learnline','m038_program_month_counts','2026-12-08 03:28:27.203138+00:00');
INSERT INTO "_sqlite_migrations" VALUES(35,'learnline','m039_enrollment_attempts','2026-12-08 03:28:27.206496+00:00');
CREATE TABLE "activity" (
            day TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('sms', 'ussd', 'web', 'whatsapp')),
            phone TEXT NOT NULL,
            PRIMARY KEY (day, channel, phone)
        ) WITHOUT ROWID;
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
CREATE TABLE certificates (
            code TEXT PRIMARY KEY,
            phone TEXT,
            course_id TEXT NOT NULL,
            course_title TEXT NOT NULL,
            holder TEXT NOT NULL,
            score INTEGER NOT NULL,
            total INTEGER NOT NULL,
            issued_at REAL NOT NULL
        , badge_id TEXT NOT NULL DEFAULT '', badge_salt TEXT NOT NULL DEFAULT '', revoked_at REAL, revocation_reason TEXT);
CREATE TABLE cohort_members (
            cohort_id INTEGER NOT NULL,
            phone TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'waiting',
            invited_at REAL,
            outbox_id INTEGER,
            joined_at REAL,
            UNIQUE (cohort_id, phone)
        );
CREATE TABLE cohorts (
            id INTEGER PRIMARY KEY,
            program TEXT NOT NULL,
            name TEXT NOT NULL,
            course_id TEXT NOT NULL,
            starts_on TEXT NOT NULL,       -- YYYY-MM-DD, the first day invitations go
            carrier_id TEXT NOT NULL,
            contacts TEXT NOT NULL DEFAULT '[]',   -- JSON list of E.164 numbers
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            report_sent_at REAL
        , uid TEXT NOT NULL DEFAULT '');
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
            updated_at REAL NOT NULL, attempt_started_at REAL,
            PRIMARY KEY (phone, course_id)
        );
CREATE TABLE erased_numbers (
            number_hash TEXT PRIMARY KEY,
            erased_at REAL NOT NULL
        ) WITHOUT ROWID;
CREATE TABLE erasure_marks (
            number_hash TEXT PRIMARY KEY,
            erased_at REAL,
            readmitted_at REAL
        ) WITHOUT ROWID;
CREATE TABLE events (
            seq INTEGER PRIMARY KEY,   -- the order this database stored them in
            id TEXT NOT NULL UNIQUE,   -- 12 hex of milliseconds, 20 random hex
            edge TEXT NOT NULL,        -- the edge that recorded it
            learner TEXT NOT NULL,     -- E.164, or erased:<16 hex> once erased
            kind TEXT NOT NULL,
            at REAL NOT NULL,
            data TEXT NOT NULL         -- JSON object, by kind
        );
CREATE TABLE held_messages (
            outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
            was TEXT NOT NULL,         -- its status when held: queued or sending
            held_at REAL NOT NULL,
            reason TEXT NOT NULL
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
            error TEXT, meta TEXT,
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
        , display_name TEXT, timezone TEXT, schedule TEXT NOT NULL DEFAULT 'off'
            CHECK (schedule IN ('off', 'daily', 'weekdays')), schedule_hour INTEGER NOT NULL DEFAULT 8, schedule_paused INTEGER NOT NULL DEFAULT 0, schedule_offered INTEGER NOT NULL DEFAULT 0, next_check_at REAL, last_seen_at REAL, nudges INTEGER NOT NULL DEFAULT 0, pending_review TEXT, delivery TEXT NOT NULL DEFAULT 'sms', link_offered INTEGER NOT NULL DEFAULT 0, channel TEXT);
CREATE TABLE lesson_completions (
            phone TEXT NOT NULL,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            mode TEXT NOT NULL,        -- sms, link, ussd or web
            locale TEXT NOT NULL,      -- the language it was read in
            completed_at REAL NOT NULL,
            PRIMARY KEY (phone, course_id, lesson_id)
        ) WITHOUT ROWID;
CREATE TABLE lesson_costs (
            phone TEXT NOT NULL,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            carrier_id TEXT NOT NULL,
            segments INTEGER NOT NULL DEFAULT 0,       -- SMS segments queued for it
            ussd_sessions INTEGER NOT NULL DEFAULT 0,  -- sessions that showed it
            web_bytes INTEGER NOT NULL DEFAULT 0, whatsapp_service INTEGER NOT NULL DEFAULT 0, whatsapp_utility INTEGER NOT NULL DEFAULT 0, whatsapp_marketing INTEGER NOT NULL DEFAULT 0,      -- its pages, as sent (compressed)
            PRIMARY KEY (phone, course_id, lesson_id, carrier_id)
        ) WITHOUT ROWID;
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
CREATE TABLE lrs_voids (
        statement_id TEXT PRIMARY KEY,
        queued_at REAL NOT NULL
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
        , kind TEXT NOT NULL DEFAULT 'reply', segments INTEGER NOT NULL DEFAULT 1, sent_at REAL, carrier_ref TEXT, payload TEXT, read_at REAL, fallback_of INTEGER, fallback_to TEXT, program TEXT NOT NULL DEFAULT '');
CREATE TABLE program_members (
            program TEXT NOT NULL,
            phone TEXT NOT NULL,
            joined_at REAL NOT NULL,
            via TEXT NOT NULL,
            cohort_id INTEGER, cohort_uid TEXT,
            PRIMARY KEY (program, phone)
        );
CREATE TABLE program_month_counts (
        month TEXT NOT NULL,       -- 'YYYY-MM', UTC, of the messages' creation
        program TEXT NOT NULL,
        carrier_id TEXT NOT NULL,
        segments INTEGER NOT NULL DEFAULT 0,    -- SMS segments the carrier accepted
        service INTEGER NOT NULL DEFAULT 0,     -- WhatsApp messages delivered, by category
        utility INTEGER NOT NULL DEFAULT 0,
        marketing INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (month, program, carrier_id)
    ) WITHOUT ROWID;
CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            phone TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('sms', 'ussd', 'web', 'whatsapp')),
            carrier_id TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            course_id TEXT,
            lesson_id TEXT,
            card INTEGER,          -- the card they were on, 1-based as authored
            quiz_question INTEGER, -- 1-based quiz question waiting for them, or NULL
            asked_at REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'answered', 'closed', 'refused')),
            answer TEXT,
            answered_at REAL,
            answered_by INTEGER    -- staff.id
        , uid TEXT, edge TEXT NOT NULL DEFAULT '', locale TEXT, claimed_by INTEGER, claimed_at REAL, closed_by INTEGER, closed_at REAL, program TEXT NOT NULL DEFAULT '');
CREATE TABLE rate_events (
            key TEXT NOT NULL,
            at REAL NOT NULL
        );
CREATE TABLE reviews (
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            question INTEGER NOT NULL,
            due_at REAL NOT NULL,
            right_count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (phone, course_id, lesson_id, question)
        );
CREATE TABLE saved_replies (
            id INTEGER PRIMARY KEY,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            updated_by INTEGER,    -- staff.id of the last tutor to write it
            updated_at REAL NOT NULL
        );
CREATE TABLE send_attempts (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            at REAL NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'retry', 'failed', 'cancelled')),
            detail TEXT
        );
CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
INSERT INTO "settings" VALUES('content_version','c059f5ecc56c92a352cd5c3b5b38bca7');
CREATE TABLE signin_codes (
            id INTEGER PRIMARY KEY,
            phone TEXT NOT NULL,
            code_hash TEXT NOT NULL,
            expires_at REAL NOT NULL,
            tries INTEGER NOT NULL DEFAULT 0,
            used INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
CREATE TABLE staff (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,   -- lower case
            name TEXT NOT NULL,
            password_hash TEXT NOT NULL,     -- argon2id, PHC string format
            created_at REAL NOT NULL,
            password_changed_at REAL NOT NULL,
            last_signin_at REAL,
            failures INTEGER NOT NULL DEFAULT 0,  -- failed sign-ins since the last success
            locked_until REAL                     -- no sign-in checked before then
        );
CREATE TABLE staff_audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor TEXT,          -- the username acting; NULL: the terminal, or nobody known
            action TEXT NOT NULL,
            subject TEXT,        -- the account (or, later, the question) acted on
            address TEXT         -- the client's address (an IPv6 /64), for web actions
        );
CREATE TABLE staff_roles (
            staff_id INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'tutor')),
            program TEXT NOT NULL DEFAULT '',     -- '': the whole gateway
            PRIMARY KEY (staff_id, role, program)
        ) WITHOUT ROWID;
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
CREATE TABLE sync_state (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
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
            expires_at REAL NOT NULL, lesson TEXT,
            PRIMARY KEY (carrier_id, session_id)
        );
CREATE TABLE web_sessions (
            id TEXT PRIMARY KEY,       -- SHA-256 (hex) of the token the cookie carries
            kind TEXT NOT NULL,        -- 'learner', 'signin' (code asked) or 'admin'
            phone TEXT,                -- learner, signin: the number
            mark TEXT,                 -- admin: which dashboard token signed it in
            started_at REAL NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID;
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE INDEX answers_by_learner ON answers (phone, course_id, lesson_id);
CREATE INDEX outbox_due ON outbox (carrier_id, status, due_at);
CREATE INDEX send_attempts_by_message ON send_attempts (outbox_id);
CREATE INDEX status_events_unmatched ON status_events (carrier_id, carrier_message_id)
            WHERE outbox_id IS NULL;
CREATE INDEX ussd_sessions_by_phone ON ussd_sessions (phone, updated_at);
CREATE INDEX ussd_sessions_by_expiry ON ussd_sessions (expires_at);
CREATE INDEX signin_codes_by_phone ON signin_codes (phone, created_at);
CREATE INDEX rate_events_by_key ON rate_events (key, at);
CREATE INDEX outbox_by_status ON outbox (status, due_at);
CREATE INDEX inbound_pending ON inbound (received_at) WHERE status = 'received';
CREATE INDEX outbox_by_carrier_id ON outbox (carrier_id, carrier_message_id) WHERE carrier_message_id IS NOT NULL;
CREATE INDEX learners_next_check ON learners (next_check_at)
            WHERE next_check_at IS NOT NULL;
CREATE INDEX outbox_unsolicited ON outbox (phone, sent_at) WHERE kind != 'reply';
CREATE INDEX reviews_due ON reviews (due_at);
CREATE UNIQUE INDEX certificates_once ON certificates (phone, course_id)
            WHERE phone IS NOT NULL;
CREATE INDEX events_by_learner ON events (learner);
CREATE TRIGGER courses_insert_new_content_version
                    AFTER INSERT ON courses BEGIN
                      UPDATE settings SET value = lower(hex(randomblob(16)))
                      WHERE name = 'content_version';
                    END;
CREATE TRIGGER courses_update_new_content_version
                    AFTER UPDATE ON courses BEGIN
                      UPDATE settings SET value = lower(hex(randomblob(16)))
                      WHERE name = 'content_version';
                    END;
CREATE TRIGGER courses_delete_new_content_version
                    AFTER DELETE ON courses BEGIN
                      UPDATE settings SET value = lower(hex(randomblob(16)))
                      WHERE name = 'content_version';
                    END;
CREATE TRIGGER lessons_insert_new_content_version
                    AFTER INSERT ON lessons BEGIN
                      UPDATE settings SET value = lower(hex(randomblob(16)))
                      WHERE name = 'content_version';
                    END;
CREATE TRIGGER lessons_update_new_content_version
                    AFTER UPDATE ON lessons BEGIN
                      UPDATE settings SET value = lower(hex(randomblob(16)))
                      WHERE name = 'content_version';
                    END;
CREATE TRIGGER lessons_delete_new_content_version
                    AFTER DELETE ON lessons BEGIN
                      UPDATE settings SET value = lower(hex(randomblob(16)))
                      WHERE name = 'content_version';
                    END;
CREATE INDEX events_course_completed ON events (learner) WHERE kind = 'course_completed';
CREATE INDEX outbox_by_carrier_ref ON outbox (carrier_id, carrier_ref) WHERE carrier_ref IS NOT NULL;
CREATE INDEX web_sessions_by_phone ON web_sessions (phone);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
CREATE INDEX lesson_completions_by_time ON lesson_completions (completed_at);
CREATE INDEX inbound_by_sender ON inbound (phone, carrier_id, received_at);
CREATE INDEX outbox_by_fallback_of ON outbox (fallback_of) WHERE fallback_of IS NOT NULL;
CREATE INDEX staff_audit_by_time ON staff_audit (at);
CREATE INDEX web_sessions_by_staff ON web_sessions (mark) WHERE kind = 'staff';
CREATE INDEX questions_open ON questions (asked_at) WHERE status = 'open';
CREATE INDEX questions_by_learner ON questions (phone, asked_at);
CREATE UNIQUE INDEX questions_by_uid ON questions (uid);
CREATE INDEX saved_replies_by_lesson ON saved_replies (course_id, lesson_id);
CREATE INDEX program_members_by_phone ON program_members (phone);
CREATE INDEX cohorts_by_program ON cohorts (program);
CREATE INDEX cohort_members_by_status ON cohort_members (cohort_id, status);
CREATE INDEX cohort_members_by_invitation ON cohort_members (cohort_id, invited_at);
CREATE INDEX cohort_members_by_phone ON cohort_members (phone);
CREATE UNIQUE INDEX cohorts_by_uid ON cohorts (uid);
CREATE UNIQUE INDEX certificates_by_badge ON certificates (badge_id);
CREATE INDEX certificates_by_course ON certificates (course_id, issued_at, course_title);
CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_erased ON certificates (phone, issued_at) WHERE phone IS NULL;
CREATE INDEX questions_by_time ON questions (asked_at);
CREATE TRIGGER outbox_counted_on_update AFTER UPDATE OF status, segments, payload, carrier_message_id, program, carrier_id, created_at ON outbox
        WHEN (OLD.program != '' AND OLD.status IN ('sent', 'delivered', 'undelivered', 'failed'))
          OR (NEW.program != '' AND NEW.status IN ('sent', 'delivered', 'undelivered', 'failed'))
        BEGIN INSERT INTO program_month_counts (month, program, carrier_id, segments, service, utility, marketing) SELECT strftime('%Y-%m', CAST(OLD.created_at AS INTEGER), 'unixepoch'), OLD.program, OLD.carrier_id, -(CASE WHEN OLD.status IN ('sent', 'delivered', 'undelivered') OR (OLD.status = 'failed' AND OLD.carrier_message_id IS NOT NULL) THEN OLD.segments ELSE 0 END), -(OLD.status = 'delivered' AND (CASE WHEN json_valid(OLD.payload) AND json_extract(OLD.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(OLD.payload, '$.template.category') ELSE 'service' END) = 'service'), -(OLD.status = 'delivered' AND (CASE WHEN json_valid(OLD.payload) AND json_extract(OLD.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(OLD.payload, '$.template.category') ELSE 'service' END) = 'utility'), -(OLD.status = 'delivered' AND (CASE WHEN json_valid(OLD.payload) AND json_extract(OLD.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(OLD.payload, '$.template.category') ELSE 'service' END) = 'marketing') WHERE OLD.program != '' AND OLD.status IN ('sent', 'delivered', 'undelivered', 'failed') ON CONFLICT (month, program, carrier_id) DO UPDATE SET segments = segments + excluded.segments, service = service + excluded.service, utility = utility + excluded.utility, marketing = marketing + excluded.marketing; INSERT INTO program_month_counts (month, program, carrier_id, segments, service, utility, marketing) SELECT strftime('%Y-%m', CAST(NEW.created_at AS INTEGER), 'unixepoch'), NEW.program, NEW.carrier_id, (CASE WHEN NEW.status IN ('sent', 'delivered', 'undelivered') OR (NEW.status = 'failed' AND NEW.carrier_message_id IS NOT NULL) THEN NEW.segments ELSE 0 END), (NEW.status = 'delivered' AND (CASE WHEN json_valid(NEW.payload) AND json_extract(NEW.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(NEW.payload, '$.template.category') ELSE 'service' END) = 'service'), (NEW.status = 'delivered' AND (CASE WHEN json_valid(NEW.payload) AND json_extract(NEW.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(NEW.payload, '$.template.category') ELSE 'service' END) = 'utility'), (NEW.status = 'delivered' AND (CASE WHEN json_valid(NEW.payload) AND json_extract(NEW.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(NEW.payload, '$.template.category') ELSE 'service' END) = 'marketing') WHERE NEW.program != '' AND NEW.status IN ('sent', 'delivered', 'undelivered', 'failed') ON CONFLICT (month, program, carrier_id) DO UPDATE SET segments = segments + excluded.segments, service = service + excluded.service, utility = utility + excluded.utility, marketing = marketing + excluded.marketing; END;
CREATE TRIGGER outbox_counted_on_delete AFTER DELETE ON outbox
        WHEN OLD.program != '' AND OLD.status IN ('sent', 'delivered', 'undelivered', 'failed')
        BEGIN INSERT INTO program_month_counts (month, program, carrier_id, segments, service, utility, marketing) SELECT strftime('%Y-%m', CAST(OLD.created_at AS INTEGER), 'unixepoch'), OLD.program, OLD.carrier_id, -(CASE WHEN OLD.status IN ('sent', 'delivered', 'undelivered') OR (OLD.status = 'failed' AND OLD.carrier_message_id IS NOT NULL) THEN OLD.segments ELSE 0 END), -(OLD.status = 'delivered' AND (CASE WHEN json_valid(OLD.payload) AND json_extract(OLD.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(OLD.payload, '$.template.category') ELSE 'service' END) = 'service'), -(OLD.status = 'delivered' AND (CASE WHEN json_valid(OLD.payload) AND json_extract(OLD.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(OLD.payload, '$.template.category') ELSE 'service' END) = 'utility'), -(OLD.status = 'delivered' AND (CASE WHEN json_valid(OLD.payload) AND json_extract(OLD.payload, '$.template.category') IN ('utility', 'marketing') THEN json_extract(OLD.payload, '$.template.category') ELSE 'service' END) = 'marketing') WHERE OLD.program != '' AND OLD.status IN ('sent', 'delivered', 'undelivered', 'failed') ON CONFLICT (month, program, carrier_id) DO UPDATE SET segments = segments + excluded.segments, service = service + excluded.service, utility = utility + excluded.utility, marketing = marketing + excluded.marketing; END;
COMMIT;
