"""The database schema, as sqlite-utils migrations applied in order.

Times are stored as Unix epoch seconds (REAL) so that due dates and leases
compare cheaply; `datetime(col, 'unixepoch')` shows them to an operator.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("learnline")


@migrations()
def m001_initial(db: Database) -> None:
    """Content, learners and their progress, inbound messages and the outbox."""
    db.executescript(
        """
        CREATE TABLE courses (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            position INTEGER NOT NULL,
            meta TEXT NOT NULL,
            updated_at REAL NOT NULL
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
        CREATE TABLE learners (
            phone TEXT PRIMARY KEY,
            locale TEXT NOT NULL,
            carrier_id TEXT NOT NULL,
            stopped INTEGER NOT NULL DEFAULT 0,
            current_course TEXT REFERENCES courses(id) ON DELETE SET NULL,
            created_at REAL NOT NULL,
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
        CREATE TABLE lesson_results (
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            score INTEGER NOT NULL,
            total INTEGER NOT NULL,
            completed_at REAL NOT NULL,
            PRIMARY KEY (phone, course_id, lesson_id)
        );
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
        CREATE INDEX answers_by_learner ON answers (phone, course_id, lesson_id);
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
        CREATE INDEX inbound_pending ON inbound (status, received_at);
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
        CREATE INDEX outbox_due ON outbox (carrier_id, status, due_at);
        CREATE INDEX outbox_by_carrier_id ON outbox (carrier_id, carrier_message_id);
        CREATE TABLE send_attempts (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            at REAL NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'retry', 'failed', 'cancelled')),
            detail TEXT
        );
        CREATE INDEX send_attempts_by_message ON send_attempts (outbox_id);
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
        CREATE INDEX status_events_unmatched ON status_events (carrier_id, carrier_message_id)
            WHERE outbox_id IS NULL;
        """
    )


@migrations()
def m002_ussd_sessions(db: Database) -> None:
    """USSD sessions: where each live session is, keyed by carrier and session id."""
    db.executescript(
        """
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
        CREATE INDEX ussd_sessions_by_phone ON ussd_sessions (phone, updated_at);
        CREATE INDEX ussd_sessions_by_expiry ON ussd_sessions (expires_at);
        """
    )


@migrations()
def m003_web(db: Database) -> None:
    """The lite web: sign-in codes, rate limits, and settings such as the session key."""
    db.executescript(
        """
        CREATE TABLE signin_codes (
            id INTEGER PRIMARY KEY,
            phone TEXT NOT NULL,
            code_hash TEXT NOT NULL,
            expires_at REAL NOT NULL,
            tries INTEGER NOT NULL DEFAULT 0,
            used INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX signin_codes_by_phone ON signin_codes (phone, created_at);
        CREATE TABLE rate_events (
            key TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX rate_events_by_key ON rate_events (key, at);
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


@migrations()
def m004_inbound_meta(db: Database) -> None:
    """What a carrier needs back when we reply to an inbound message (Africa's Talking's
    linkId for premium messages), as JSON."""
    db.execute("ALTER TABLE inbound ADD COLUMN meta TEXT")


@migrations()
def m005_outbox_by_status(db: Database) -> None:
    """Find what is due across carriers without reading the outbox's history."""
    db.execute("CREATE INDEX outbox_by_status ON outbox (status, due_at)")


@migrations()
def m006_partial_indexes(db: Database) -> None:
    """Index only the rows looked up: pending inbound messages, and outbox messages a
    carrier has named. Every webhook then writes two fewer index pages."""
    db.execute("DROP INDEX inbound_pending")
    db.execute("CREATE INDEX inbound_pending ON inbound (received_at) "
               "WHERE status = 'received'")
    db.execute("DROP INDEX outbox_by_carrier_id")
    db.execute("CREATE INDEX outbox_by_carrier_id ON outbox (carrier_id, carrier_message_id) "
               "WHERE carrier_message_id IS NOT NULL")


@migrations()
def m007_learning_over_time(db: Database) -> None:
    """Daily lessons, nudges, spaced review, certificates, activity per channel for the
    operator's dashboard, and erased numbers (docs/scheduling.md, docs/privacy.md)."""
    db.executescript(
        """
        ALTER TABLE learners ADD COLUMN display_name TEXT;
        -- IANA zone the learner chose; NULL: from the number, else the carrier.
        ALTER TABLE learners ADD COLUMN timezone TEXT;
        ALTER TABLE learners ADD COLUMN schedule TEXT NOT NULL DEFAULT 'off'
            CHECK (schedule IN ('off', 'daily', 'weekdays'));
        ALTER TABLE learners ADD COLUMN schedule_hour INTEGER NOT NULL DEFAULT 8;
        ALTER TABLE learners ADD COLUMN schedule_paused INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE learners ADD COLUMN schedule_offered INTEGER NOT NULL DEFAULT 0;
        -- When the scheduler next looks at this learner (daily lesson or nudge); NULL: never.
        ALTER TABLE learners ADD COLUMN next_check_at REAL;
        -- Last message, screen or page from the learner; reminders since then.
        ALTER TABLE learners ADD COLUMN last_seen_at REAL;
        ALTER TABLE learners ADD COLUMN nudges INTEGER NOT NULL DEFAULT 0;
        -- A review question sent and not yet answered: {"course", "lesson", "question"}.
        ALTER TABLE learners ADD COLUMN pending_review TEXT;
        CREATE INDEX learners_next_check ON learners (next_check_at)
            WHERE next_check_at IS NOT NULL;

        -- What an outbound message is: a reply to the learner, or unsolicited (lesson,
        -- nudge, review, announcement), which quiet hours and the daily cap hold back.
        ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply';
        ALTER TABLE outbox ADD COLUMN segments INTEGER NOT NULL DEFAULT 1;
        -- When the carrier accepted it: the daily cap counts unsolicited messages by it.
        ALTER TABLE outbox ADD COLUMN sent_at REAL;
        CREATE INDEX outbox_unsolicited ON outbox (phone, sent_at) WHERE kind != 'reply';

        CREATE TABLE reviews (
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            question INTEGER NOT NULL,
            due_at REAL NOT NULL,
            right_count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (phone, course_id, lesson_id, question)
        );
        CREATE INDEX reviews_due ON reviews (due_at);

        CREATE TABLE certificates (
            code TEXT PRIMARY KEY,
            phone TEXT,
            course_id TEXT NOT NULL,
            course_title TEXT NOT NULL,
            holder TEXT NOT NULL,
            score INTEGER NOT NULL,
            total INTEGER NOT NULL,
            issued_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX certificates_once ON certificates (phone, course_id)
            WHERE phone IS NOT NULL;

        -- One row per learner, channel and UTC day they were active: daily active learners.
        CREATE TABLE activity (
            day TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('sms', 'ussd', 'web')),
            phone TEXT NOT NULL,
            PRIMARY KEY (day, channel, phone)
        ) WITHOUT ROWID;

        -- Numbers whose learner asked to be erased, as keyed hashes: a stray message
        -- from one must not enroll them again.
        CREATE TABLE erased_numbers (
            number_hash TEXT PRIMARY KEY,
            erased_at REAL NOT NULL
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m008_events(db: Database) -> None:
    """Learner events (docs/sync.md, "Events and merge rules"): every change to a learner
    as an immutable fact, this edge's and other edges', with the sync cursors; and when
    each erased number was last erased and readmitted. The progress already stored is
    written as events once, so it travels to the hub like everything recorded later."""
    from gateway.store import events

    # One statement at a time (not executescript, which commits): all or nothing.
    for statement in (
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,   -- the order this database stored them in
            id TEXT NOT NULL UNIQUE,   -- 12 hex of milliseconds, 20 random hex
            edge TEXT NOT NULL,        -- the edge that recorded it
            learner TEXT NOT NULL,     -- E.164, or erased:<16 hex> once erased
            kind TEXT NOT NULL,
            at REAL NOT NULL,
            data TEXT NOT NULL         -- JSON object, by kind
        )""",
        "CREATE INDEX events_by_learner ON events (learner)",
        # Cursors and outcomes of sync ("push_cursor": the last seq the hub acknowledged).
        """CREATE TABLE sync_state (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID""",
        # Per erased number (a keyed hash, as erased_numbers): its latest erasure and
        # readmission, here or on another edge. Unlike erased_numbers, kept after the
        # number comes back: events from before an erasure are never applied again.
        """CREATE TABLE erasure_marks (
            number_hash TEXT PRIMARY KEY,
            erased_at REAL,
            readmitted_at REAL
        ) WITHOUT ROWID""",
    ):
        db.execute(statement)
    events.backfill(db.conn)


@migrations()
def m009_content_version(db: Database) -> None:
    """A version token for content (courses and lessons), given a new random value by
    triggers whenever a row of either changes, however it is changed (an import, a course
    pack, a cascade, an operator's SQL). Processes cache parsed content under the token
    they read once per write transaction (Store._content)."""
    from secrets import token_hex

    db.execute("INSERT OR IGNORE INTO settings (name, value) VALUES ('content_version', ?)",
               [token_hex(16)])
    for table in ("courses", "lessons"):
        for change in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"""CREATE TRIGGER {table}_{change.lower()}_new_content_version
                    AFTER {change} ON {table} BEGIN
                      UPDATE settings SET value = lower(hex(randomblob(16)))
                      WHERE name = 'content_version';
                    END""")


@migrations()
def m010_repair_edited_migrations(db: Database) -> None:
    """Add what two migrations gained after databases had applied them. m001 gained
    status_events.state (and the status_events_unmatched index) and m007 gained
    outbox.sent_at (and outbox_unsolicited) after release, so a database made before
    those edits lacks them. Each is added only where absent; a database that has them
    is left as it is. Messages sent before sent_at was stamped get the time of their
    accepted attempt."""
    def columns(table: str) -> set[str]:
        return {row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()}

    if "state" not in columns("status_events"):
        db.execute("ALTER TABLE status_events ADD COLUMN state TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS status_events_unmatched ON status_events "
               "(carrier_id, carrier_message_id) WHERE outbox_id IS NULL")
    if "sent_at" not in columns("outbox"):
        db.execute("ALTER TABLE outbox ADD COLUMN sent_at REAL")
    # Sent by a version that did not stamp sent_at (before m007 had it).
    db.execute(
        """UPDATE outbox SET sent_at = (SELECT max(at) FROM send_attempts
             WHERE send_attempts.outbox_id = outbox.id AND outcome = 'accepted')
           WHERE sent_at IS NULL AND carrier_message_id IS NOT NULL""")
    db.execute("CREATE INDEX IF NOT EXISTS outbox_unsolicited ON outbox (phone, sent_at) "
               "WHERE kind != 'reply'")


@migrations()
def m011_held_messages(db: Database) -> None:
    """Messages held for the operator's decision after a restore (`learnline restore`):
    they were waiting to be sent when the backup was taken, and may have gone out since.
    A held message is 'cancelled' in the outbox, so no worker sends it, until released
    (queued again) or dropped (docs/operations.md, Backup and restore)."""
    db.execute(
        """CREATE TABLE held_messages (
            outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
            was TEXT NOT NULL,         -- its status when held: queued or sending
            held_at REAL NOT NULL,
            reason TEXT NOT NULL
        )""")


@migrations()
def m012_course_completions(db: Database) -> None:
    """An index of course completions: the figures count a course as completed by its
    `course_completed` events, which a retake or a review leaves in place, not by the
    enrollment's completion date, which a retake clears."""
    db.execute("CREATE INDEX events_course_completed ON events (learner) "
               "WHERE kind = 'course_completed'")


@migrations()
def m013_outbox_carrier_ref(db: Database) -> None:
    """A second carrier id for a sent message (Orange: its own id of the request, beside
    the callbackData Learnline chose), so a delivery report naming either finds it."""
    db.execute("ALTER TABLE outbox ADD COLUMN carrier_ref TEXT")
    db.execute("CREATE INDEX outbox_by_carrier_ref ON outbox (carrier_id, carrier_ref) "
               "WHERE carrier_ref IS NOT NULL")


@migrations()
def m014_web_sessions(db: Database) -> None:
    """Sessions of the web pages, kept on the server so that signing out ends them for
    every copy of the cookie, and so that the cookie carries no phone number: a learner
    signed in, a sign-in waiting for its code, an operator signed in to the dashboard."""
    db.execute(
        """CREATE TABLE web_sessions (
            id TEXT PRIMARY KEY,       -- SHA-256 (hex) of the token the cookie carries
            kind TEXT NOT NULL,        -- 'learner', 'signin' (code asked) or 'admin'
            phone TEXT,                -- learner, signin: the number
            mark TEXT,                 -- admin: which dashboard token signed it in
            started_at REAL NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID""")
    db.execute("CREATE INDEX web_sessions_by_phone ON web_sessions (phone)")


@migrations()
def m015_web_sessions_by_expiry(db: Database) -> None:
    """An index of web sessions by expiry: every sign-in forgets the expired ones inside
    the write transaction all writers wait for, which must not read every session."""
    db.execute("CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at)")


@migrations()
def m016_lesson_costs(db: Database) -> None:
    """What each lesson cost, for the cost per completed lesson by delivery mode
    (docs/operations.md): the SMS segments queued, the USSD sessions that showed it and
    the bytes of its pages sent, per learner, lesson and carrier; each lesson completed
    here with the mode it was taken in and its language; and which lesson a USSD session
    last counted toward, so that a session counts once for a lesson."""
    for statement in (
        """CREATE TABLE lesson_costs (
            phone TEXT NOT NULL,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            carrier_id TEXT NOT NULL,
            segments INTEGER NOT NULL DEFAULT 0,       -- SMS segments queued for it
            ussd_sessions INTEGER NOT NULL DEFAULT 0,  -- sessions that showed it
            web_bytes INTEGER NOT NULL DEFAULT 0,      -- its pages, as sent (compressed)
            PRIMARY KEY (phone, course_id, lesson_id, carrier_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE lesson_completions (
            phone TEXT NOT NULL,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            mode TEXT NOT NULL,        -- sms, link, ussd or web
            locale TEXT NOT NULL,      -- the language it was read in
            completed_at REAL NOT NULL,
            PRIMARY KEY (phone, course_id, lesson_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX lesson_completions_by_time ON lesson_completions (completed_at)",
        "ALTER TABLE ussd_sessions ADD COLUMN lesson TEXT",
    ):
        db.execute(statement)


@migrations()
def m017_lesson_by_link(db: Database) -> None:
    """How a learner gets their lessons: 'sms' (in full, card by card) or 'link' (one
    short SMS carrying a link to the lesson's page), and whether they were offered
    links. A lesson link is a web session of kind 'lesson' (its `mark` names the lesson)."""
    db.execute("ALTER TABLE learners ADD COLUMN delivery TEXT NOT NULL DEFAULT 'sms'")
    db.execute("ALTER TABLE learners ADD COLUMN link_offered INTEGER NOT NULL DEFAULT 0")


@migrations()
def m018_outbox_payload(db: Database) -> None:
    """An outgoing message's structure beside its text: WhatsApp's reply buttons or list,
    as JSON the sending adapter reads (`body` stays the whole message as plain text, for
    logs, the dashboard and a fallback); NULL for a message that is text alone."""
    db.execute("ALTER TABLE outbox ADD COLUMN payload TEXT")


@migrations()
def m019_activity_whatsapp(db: Database) -> None:
    """Learners active on WhatsApp are counted as such: the activity table's channels gain
    'whatsapp' (SQLite changes a CHECK only by making the table again)."""
    # One statement at a time (not executescript, which commits): all or nothing.
    for statement in (
        """CREATE TABLE activity_new (
            day TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('sms', 'ussd', 'web', 'whatsapp')),
            phone TEXT NOT NULL,
            PRIMARY KEY (day, channel, phone)
        ) WITHOUT ROWID""",
        "INSERT INTO activity_new (day, channel, phone) SELECT day, channel, phone FROM activity",
        "DROP TABLE activity",
        "ALTER TABLE activity_new RENAME TO activity",
    ):
        db.execute(statement)


@migrations()
def m022_whatsapp_figures(db: Database) -> None:
    """WhatsApp's figures: when the learner read a message (a carrier's read receipt; the
    message stays `delivered`), and the WhatsApp messages sent toward each lesson, by the
    category a WhatsApp carrier prices them in (a free-form `service` reply, a `utility`
    or `marketing` template), for the cost per completed lesson."""
    for statement in (
        "ALTER TABLE outbox ADD COLUMN read_at REAL",
        "ALTER TABLE lesson_costs ADD COLUMN whatsapp_service INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE lesson_costs ADD COLUMN whatsapp_utility INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE lesson_costs ADD COLUMN whatsapp_marketing INTEGER NOT NULL DEFAULT 0",
    ):
        db.execute(statement)


@migrations()
def m020_inbound_by_sender(db: Database) -> None:
    """A learner's latest message to a carrier found without reading every inbound
    message: WhatsApp's 24-hour window opens at it."""
    db.execute("CREATE INDEX inbound_by_sender ON inbound (phone, carrier_id, received_at)")


@migrations()
def m021_fallback_and_channel(db: Database) -> None:
    """Fallback and the learner's channel: a message a carrier could not deliver names
    the carrier its copy went through instead (`fallback_to`, set once: the guard that
    it goes once), and the copy names the message it stands for (`fallback_of`); a
    learner's chosen channel for unsolicited messages ('sms' or 'whatsapp'; NULL: where
    they last wrote)."""
    for statement in (
        "ALTER TABLE outbox ADD COLUMN fallback_of INTEGER",
        "ALTER TABLE outbox ADD COLUMN fallback_to TEXT",
        "CREATE INDEX outbox_by_fallback_of ON outbox (fallback_of) "
        "WHERE fallback_of IS NOT NULL",
        "ALTER TABLE learners ADD COLUMN channel TEXT",
    ):
        db.execute(statement)


@migrations()
def m025_staff_accounts(db: Database) -> None:
    """People who sign in to the dashboard (and, later, the tutors' pages) with their own
    accounts: an argon2 password hash, failed sign-ins in a row and the lock they earn;
    their roles, each for the whole gateway (program '') or, later, for one program; and
    the record of who did what. A staff session is a web session of kind 'staff' whose
    `mark` is the account's id."""
    for statement in (
        """CREATE TABLE staff (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,   -- lower case
            name TEXT NOT NULL,
            password_hash TEXT NOT NULL,     -- argon2id, PHC string format
            created_at REAL NOT NULL,
            password_changed_at REAL NOT NULL,
            last_signin_at REAL,
            failures INTEGER NOT NULL DEFAULT 0,  -- failed sign-ins since the last success
            locked_until REAL                     -- no sign-in checked before then
        )""",
        """CREATE TABLE staff_roles (
            staff_id INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'tutor')),
            program TEXT NOT NULL DEFAULT '',     -- '': the whole gateway
            PRIMARY KEY (staff_id, role, program)
        ) WITHOUT ROWID""",
        """CREATE TABLE staff_audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor TEXT,          -- the username acting; NULL: the terminal, or nobody known
            action TEXT NOT NULL,
            subject TEXT,        -- the account (or, later, the question) acted on
            address TEXT         -- the client's address (an IPv6 /64), for web actions
        )""",
        "CREATE INDEX staff_audit_by_time ON staff_audit (at)",
        "CREATE INDEX web_sessions_by_staff ON web_sessions (mark) WHERE kind = 'staff'",
    ):
        db.execute(statement)


@migrations()
def m026_questions(db: Database) -> None:
    """Learners' questions to tutors: who asked, on which channel and carrier, the text,
    where they were in their course when they asked (course, lesson, card or quiz
    question), its status ('open', 'answered', 'closed'; 'refused': the one question past
    the daily limit, kept without its text so its notice goes once), and the answer's
    text, time and staff account once a tutor answers."""
    for statement in (
        """CREATE TABLE questions (
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
        )""",
        "CREATE INDEX questions_open ON questions (asked_at) WHERE status = 'open'",
        "CREATE INDEX questions_by_learner ON questions (phone, asked_at)",
    ):
        db.execute(statement)


@migrations()
def m028_question_sync(db: Database) -> None:
    """Questions travel between edges and the hub (docs/sync.md, Questions): each has a
    globally unique `uid` (the id of the `question_asked` event that carried it; existing
    questions are given one here), the `edge` it was asked on ('' here; on the hub, the
    edge whose learner asked) and the `locale` the learner read in when they asked (a copy
    on the hub has no learner row to read it from; NULL: the learner's)."""
    from gateway.store import events

    for statement in (
        "ALTER TABLE questions ADD COLUMN uid TEXT",
        "ALTER TABLE questions ADD COLUMN edge TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE questions ADD COLUMN locale TEXT",
    ):
        db.execute(statement)
    for question_id, asked_at in db.execute(
            "SELECT id, asked_at FROM questions ORDER BY id").fetchall():
        db.execute("UPDATE questions SET uid = ? WHERE id = ?",
                   [events.new_event_id(asked_at), question_id])
    db.execute("CREATE UNIQUE INDEX questions_by_uid ON questions (uid)")


@migrations()
def m029_tutor_inbox(db: Database) -> None:
    """The tutors' inbox: who holds a question (claimed, or reassigned to them) and since
    when, who closed it without an answer and when, and saved replies per lesson that a
    tutor inserts into an answer and edits."""
    for statement in (
        "ALTER TABLE questions ADD COLUMN claimed_by INTEGER",  # staff.id, as closed_by
        "ALTER TABLE questions ADD COLUMN claimed_at REAL",
        "ALTER TABLE questions ADD COLUMN closed_by INTEGER",
        "ALTER TABLE questions ADD COLUMN closed_at REAL",
        """CREATE TABLE saved_replies (
            id INTEGER PRIMARY KEY,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            updated_by INTEGER,    -- staff.id of the last tutor to write it
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX saved_replies_by_lesson ON saved_replies (course_id, lesson_id)",
    ):
        db.execute(statement)


@migrations()
def m030_programs(db: Database) -> None:
    """Programs (docs/programs.md): who belongs to which program (`program_members`: how
    they joined, `via` 'keyword', 'short_code', 'ussd', 'web' or later 'invitation', and
    their cohort when one brought them), and what belongs to a program: a question asked
    from a program's course (`questions.program`) and a message queued about one
    (`outbox.program`); '' is none."""
    for statement in (
        """CREATE TABLE program_members (
            program TEXT NOT NULL,
            phone TEXT NOT NULL,
            joined_at REAL NOT NULL,
            via TEXT NOT NULL,
            cohort_id INTEGER,
            PRIMARY KEY (program, phone)
        )""",
        "CREATE INDEX program_members_by_phone ON program_members (phone)",
        "ALTER TABLE questions ADD COLUMN program TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE outbox ADD COLUMN program TEXT NOT NULL DEFAULT ''",
    ):
        db.execute(statement)


@migrations()
def m031_cohorts(db: Database) -> None:
    """Cohorts (docs/programs.md, Cohorts): a program's class or intake, with its course,
    start date and the carrier its invitations go through (`cohorts`), and the numbers
    imported into it (`cohort_members`): each invited once, by the message `outbox_id`,
    and joined when they consent. `status` is 'waiting' (not yet invited), 'invited',
    'joined' or 'stopped' (the number had sent STOP: never invited)."""
    for statement in (
        """CREATE TABLE cohorts (
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
        )""",
        "CREATE INDEX cohorts_by_program ON cohorts (program)",
        """CREATE TABLE cohort_members (
            cohort_id INTEGER NOT NULL,
            phone TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'waiting',
            invited_at REAL,
            outbox_id INTEGER,
            joined_at REAL,
            UNIQUE (cohort_id, phone)
        )""",
        "CREATE INDEX cohort_members_by_status ON cohort_members (cohort_id, status)",
        "CREATE INDEX cohort_members_by_invitation ON cohort_members (cohort_id, invited_at)",
        "CREATE INDEX cohort_members_by_phone ON cohort_members (phone)",
    ):
        db.execute(statement)


@migrations()
def m032_cohort_uid(db: Database) -> None:
    """Cohorts known across edges (docs/sync.md, Programs): each cohort gets a globally
    unique `uid` (32 hex digits; existing cohorts get one each), which a `program_joined`
    event carries, and a membership keeps the uid of its cohort (`cohort_uid`), also when
    the cohort was made on another edge and has no row here."""
    for statement in (
        "ALTER TABLE cohorts ADD COLUMN uid TEXT NOT NULL DEFAULT ''",
        "UPDATE cohorts SET uid = lower(hex(randomblob(16)))",
        "CREATE UNIQUE INDEX cohorts_by_uid ON cohorts (uid)",
        "ALTER TABLE program_members ADD COLUMN cohort_uid TEXT",
        """UPDATE program_members SET cohort_uid =
               (SELECT uid FROM cohorts WHERE cohorts.id = program_members.cohort_id)
           WHERE cohort_id IS NOT NULL""",
    ):
        db.execute(statement)


@migrations()
def m034_certificate_badges(db: Database) -> None:
    """Certificates as Open Badges (docs/integrations.md): each certificate gets the id
    of its badge's assertion (`badge_id`, 32 hex digits, random, unique) and the salt of
    its hashed recipient (`badge_salt`, 16 hex digits), existing certificates each their
    own; and room for its revocation (`revoked_at`, `revocation_reason`)."""
    for statement in (
        "ALTER TABLE certificates ADD COLUMN badge_id TEXT NOT NULL DEFAULT ''",
        "UPDATE certificates SET badge_id = lower(hex(randomblob(16)))",
        "CREATE UNIQUE INDEX certificates_by_badge ON certificates (badge_id)",
        "ALTER TABLE certificates ADD COLUMN badge_salt TEXT NOT NULL DEFAULT ''",
        "UPDATE certificates SET badge_salt = lower(hex(randomblob(8)))",
        "ALTER TABLE certificates ADD COLUMN revoked_at REAL",
        "ALTER TABLE certificates ADD COLUMN revocation_reason TEXT",
    ):
        db.execute(statement)


@migrations()
def m035_lrs_voids(db: Database) -> None:
    """Voiding statements waiting for the school's LRS (docs/integrations.md, Learning
    records): when a learner is erased, the id of each statement already sent about them
    is queued here, in the erasure's transaction, and removed once the LRS has the
    statement that voids it. What is sent of the events themselves is a cursor in
    `sync_state` (`lrs_cursor`), not a queue."""
    db.execute("""CREATE TABLE lrs_voids (
        statement_id TEXT PRIMARY KEY,
        queued_at REAL NOT NULL
    )""")


@migrations()
def m036_certificate_lookups(db: Database) -> None:
    """Indexes for the badges anyone may ask for (docs/integrations.md, Open Badges):
    a course's certificates by course (its badge class and image, and the 404 for a
    course no certificate names, without reading the table), and the revoked and the
    erased holders' certificates apart (the revocation list and its change marker read
    those alone)."""
    for statement in (
        "CREATE INDEX certificates_by_course ON certificates "
        "(course_id, issued_at, course_title)",
        "CREATE INDEX certificates_revoked ON certificates (revoked_at) "
        "WHERE revoked_at IS NOT NULL",
        "CREATE INDEX certificates_erased ON certificates (phone, issued_at) "
        "WHERE phone IS NULL",
    ):
        db.execute(statement)


@migrations()
def m037_questions_by_time(db: Database) -> None:
    """Learners' questions by when they were asked: the tutors' figures of a period on
    the dashboard, `learnline stats` and a program's page read that period's questions,
    not every question ever asked."""
    db.execute("CREATE INDEX questions_by_time ON questions (asked_at)")


@migrations()
def m038_program_month_counts(db: Database) -> None:
    """What each program's messages of each month cost in the carriers' units, kept up to
    date by triggers on the outbox (docs/programs.md, Budget): per month (UTC, of the
    message's creation), program and carrier, the segments the carrier accepted and the
    WhatsApp messages delivered by category. A program's spend is then read from a few
    rows instead of every message of the month. A message counts as the budget counted
    it (gateway/store/stats.py, _ACCEPTED and CATEGORY); the triggers add a message's
    counts when an update brings it to a counted state, move them when it changes, and
    take them away when it is deleted. A message is stored queued (Store.enqueue), so an
    insert has no trigger: no webhook pays for one. Filled from the messages already
    stored."""
    accepted = ("{r}.status IN ('sent', 'delivered', 'undelivered') "
                "OR ({r}.status = 'failed' AND {r}.carrier_message_id IS NOT NULL)")
    category = ("CASE WHEN json_valid({r}.payload) AND json_extract({r}.payload, "
                "'$.template.category') IN ('utility', 'marketing') THEN "
                "json_extract({r}.payload, '$.template.category') ELSE 'service' END")
    counted = "{r}.status IN ('sent', 'delivered', 'undelivered', 'failed')"

    columns = ("month", "program", "carrier_id", "segments", "service", "utility",
               "marketing")

    def counts(row: str, sign: str = "") -> list[str]:
        """A message's month, program, carrier and counts (`columns`), `row` naming it
        (NEW, OLD, outbox); `sign` '-' to take them away."""
        r = row
        delivered = f"{r}.status = 'delivered' AND ({category.format(r=r)})"
        # Whole seconds: strftime would round the last half millisecond of a month into
        # the next one; months begin at whole seconds, so the floor keeps it in its own.
        return [f"strftime('%Y-%m', CAST({r}.created_at AS INTEGER), 'unixepoch')",
                f"{r}.program",
                f"{r}.carrier_id",
                f"{sign}(CASE WHEN {accepted.format(r=r)} THEN {r}.segments ELSE 0 END)",
                *(f"{sign}({delivered} = '{kind}')"
                  for kind in ("service", "utility", "marketing"))]

    add = ("INSERT INTO program_month_counts "
           "(month, program, carrier_id, segments, service, utility, marketing) "
           "SELECT {values} WHERE {where} "
           "ON CONFLICT (month, program, carrier_id) DO UPDATE SET "
           "segments = segments + excluded.segments, service = service + excluded.service, "
           "utility = utility + excluded.utility, marketing = marketing + excluded.marketing;")

    def change(row: str, sign: str) -> str:
        return add.format(values=", ".join(counts(row, sign)),
                          where=f"{row}.program != '' AND {counted.format(r=row)}")

    db.execute("""CREATE TABLE program_month_counts (
        month TEXT NOT NULL,       -- 'YYYY-MM', UTC, of the messages' creation
        program TEXT NOT NULL,
        carrier_id TEXT NOT NULL,
        segments INTEGER NOT NULL DEFAULT 0,    -- SMS segments the carrier accepted
        service INTEGER NOT NULL DEFAULT 0,     -- WhatsApp messages delivered, by category
        utility INTEGER NOT NULL DEFAULT 0,
        marketing INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (month, program, carrier_id)
    ) WITHOUT ROWID""")
    named = ", ".join(f"{value} AS {name}"
                      for value, name in zip(counts("outbox"), columns, strict=True))
    db.execute(f"""INSERT INTO program_month_counts
        SELECT month, program, carrier_id, sum(segments), sum(service), sum(utility),
               sum(marketing)
        FROM (SELECT {named} FROM outbox
              WHERE outbox.program != '' AND {counted.format(r='outbox')})
        GROUP BY month, program, carrier_id""")
    watched = "status, segments, payload, carrier_message_id, program, carrier_id, created_at"
    db.execute(f"""CREATE TRIGGER outbox_counted_on_update AFTER UPDATE OF {watched} ON outbox
        WHEN (OLD.program != '' AND {counted.format(r='OLD')})
          OR (NEW.program != '' AND {counted.format(r='NEW')})
        BEGIN {change('OLD', '-')} {change('NEW', '')} END""")
    db.execute(f"""CREATE TRIGGER outbox_counted_on_delete AFTER DELETE ON outbox
        WHEN OLD.program != '' AND {counted.format(r='OLD')}
        BEGIN {change('OLD', '-')} END""")


@migrations()
def m039_enrollment_attempts(db: Database) -> None:
    """When the learner's current attempt at a course began, if they took it again after
    completing it (NULL: their first attempt): the lesson results counted towards the
    course are those finished since (gateway/store/progress.py, lesson_results)."""
    db.execute("ALTER TABLE enrollments ADD COLUMN attempt_started_at REAL")
