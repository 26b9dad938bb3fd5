"""Storage: migrations agree with the models, encryption at rest, the outbox
under concurrency, erasure and retention, on SQLite files and PostgreSQL.

The `db` fixture runs each test on a fresh SQLite file and on a PostgreSQL
database made for this run (`jikimi_test_<random>`, dropped afterwards; set
JIKIMI_TEST_POSTGRES_URL to use another server). Without a reachable server
the PostgreSQL half is skipped, and says so.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from jikimi.db import (
    CODE_PATTERN,
    Case,
    Counsellor,
    DecryptionError,
    EvidenceItem,
    Handoff,
    Keyring,
    OutboxMessage,
    SmsContact,
    add_counsellor,
    claim_due,
    counsellor_by_phone,
    delete_conversation_data,
    dispose_engines,
    enqueue,
    get_engine,
    mark_failed,
    mark_sent,
    new_code,
    normalise_phone,
    on_call_counsellors,
    purge_older_than,
    reencrypt_all,
    schema_diff,
    sender_hash,
    session_scope,
    sms_phone,
    sms_sender_id,
    upgrade,
)
from jikimi.db.models import Base
from jikimi.db.session import create_db_engine
from jikimi.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get(
    "JIKIMI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Every table of ours (a hand-written list missed new ones, and their rows,
# written under another test's key, broke a later test on the shared database).
TABLES = tuple(table.name for table in Base.metadata.sorted_tables)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
KST = timezone(timedelta(hours=9))


def fernet_key() -> str:
    return Fernet.generate_key().decode()


@dataclass
class Db:
    """One migrated database and settings (with a fresh key) pointing at it."""

    url: str
    settings: Settings
    path: Path  # the SQLite file, or None

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    def session(self):
        return session_scope(self.settings)

    @contextmanager
    def raw(self) -> Iterator:
        """A connection with no key: what someone holding the database sees."""
        engine = create_engine(self.url, future=True)
        try:
            with engine.begin() as connection:
                yield connection
        finally:
            engine.dispose()

    def count(self, table: str) -> int:
        with self.raw() as connection:
            return connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def settings_for(url: str, root: Path, secret_key: str) -> Settings:
    return load_settings(
        environ={"JIKIMI_DATABASE_URL": url, "JIKIMI_SECRET_KEY": secret_key, "RASA_TOKEN": "t"},
        root=root,
    )


@contextmanager
def throwaway_postgres(prefix: str = "jikimi_test", migrate: bool = True) -> Iterator[str]:
    """A new PostgreSQL database (migrated unless asked not to), dropped at the
    end; skips the test when PostgreSQL is not reachable."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {error}")
    admin.autocommit = True
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg2", database=name)
    url = url.render_as_string(hide_password=False)
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        dispose_engines()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once."""
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Db]:
    if request.param == "sqlite":
        path = tmp_path / "jikimi.db"
        url = f"sqlite:///{path}"
        upgrade(url)
    else:
        path = None
        url = request.getfixturevalue("postgres_url")
    database = Db(url, settings_for(url, tmp_path, fernet_key()), path)
    yield database
    dispose_engines()
    if request.param == "postgresql":
        with database.raw() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Db]:
    url = f"sqlite:///{tmp_path / 'jikimi.db'}"
    upgrade(url)
    yield Db(url, settings_for(url, tmp_path, fernet_key()), tmp_path / "jikimi.db")
    dispose_engines()


def new_case(session: Session, sender_id: str, **fields) -> Case:
    case = Case(sender_hash=sender_hash(session, sender_id), channel="socketio", **fields)
    session.add(case)
    session.flush()
    return case


def new_handoff(session: Session, sender_id: str, **fields) -> Handoff:
    handoff = Handoff(
        sender_hash=sender_hash(session, sender_id),
        sender_id=sender_id,
        channel="socketio",
        **fields,
    )
    session.add(handoff)
    session.flush()
    return handoff


# --- migrations -----------------------------------------------------------------------


def test_migration_creates_exactly_what_the_models_describe(db):
    assert schema_diff(db.url) == []
    upgrade(db.url)  # again: nothing to do, nothing breaks
    from alembic.script import ScriptDirectory

    from jikimi.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    with db.raw() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    assert schema_diff(db.url) == []


def test_schema_diff_notices_when_the_database_and_models_disagree(sqlite_db):
    with sqlite_db.raw() as connection:
        connection.execute(text("DROP INDEX ix_outbox_messages_status_next_attempt_at"))
    diff = schema_diff(sqlite_db.url)
    assert [entry[0] for entry in diff] == ["add_index"]
    assert diff[0][1].name == "ix_outbox_messages_status_next_attempt_at"


def test_other_tables_in_the_database_are_left_alone(sqlite_db):
    # Rasa's tracker store may share the database: its tables are not ours to drop.
    with sqlite_db.raw() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY)"))
    assert schema_diff(sqlite_db.url) == []


def test_the_database_checks_allowed_values(db):
    with pytest.raises(IntegrityError), db.raw() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox_messages (recipient, body, status, attempts, "
                "next_attempt_at, created_at) VALUES ('x', 'y', 'bogus', 0, :t, :t)"
            ),
            {"t": NOW.replace(tzinfo=None)},
        )


def test_cli_db_upgrade_migrates_the_configured_database(tmp_path, monkeypatch, capsys):
    from jikimi.cli import main

    url = f"sqlite:///{tmp_path / 'new-dir' / 'cli.db'}"  # the directory is made too
    monkeypatch.setenv("JIKIMI_DATABASE_URL", url)
    monkeypatch.setenv("JIKIMI_SECRET_KEY", fernet_key())
    monkeypatch.setenv("RASA_TOKEN", "t")
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert schema_diff(url) == []


def test_importing_the_package_does_no_work(tmp_path):
    path = tmp_path / "never.db"
    script = (
        "import jikimi.db, jikimi.db.session as s, jikimi.db.migrate;assert s.engine_count() == 0"
    )
    env = {**os.environ, "JIKIMI_DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, env=env)
    assert not path.exists()


# --- encryption and hashing -------------------------------------------------------------

SECRETS = {
    "description": "교실에서 찍힌 사진이 합성됐어요 SECRET-DESC",
    "url": "https://t.me/secret_room_4471",
    "when": "어제 밤 SECRET-WHEN",
    "evidence_name": "증거 SECRET-NAME.png",
    "evidence_note": "단톡방 이름 SECRET-NOTE",
    "sender": "web-SECRET-SENDER-42",
    "counsellor_phone": "1098765432",
    "student_phone": "1077778888",
    "body": "SECRET-BODY 상담 요청이 왔어요",
    "error": "SECRET-ERROR The 'To' number +821055556666 is not valid",
}


def write_one_of_everything(db: Db) -> Tuple[str, str]:
    """Writes every encrypted column; returns the case code and the SMS student's id."""
    with db.session() as session:
        case = new_case(
            session,
            SECRETS["sender"],
            description=SECRETS["description"],
            urls=[SECRETS["url"]],
            when_happened=SECRETS["when"],
            platform="telegram",
        )
        case.evidence.append(
            EvidenceItem(
                kind="screenshot",
                sha256="ab" * 32,
                name=SECRETS["evidence_name"],
                url=SECRETS["url"],
                description=SECRETS["evidence_note"],
                captured_at=NOW,
            )
        )
        counsellor = add_counsellor(session, "김상담", "010-9876-5432")
        new_handoff(session, SECRETS["sender"], case=case, counsellor=counsellor)
        student = sms_sender_id(session, "010-7777-8888", NOW)
        message = enqueue(session, "+821055556666", SECRETS["body"], NOW, SECRETS["sender"])
        claim_due(session, 1, NOW)
        mark_failed(session, message.id, SECRETS["error"], NOW)
    return case.code, student


def stored_bytes(db: Db) -> bytes:
    """Everything the database holds for our tables, as someone with the file would see it."""
    if db.path is not None:
        dispose_engines()
        return db.path.read_bytes()
    with db.raw() as connection:
        rows = [
            connection.execute(text(f"SELECT CAST(t AS text) FROM {table} t")).scalars().all()
            for table in TABLES
        ]
    return "\n".join(value for table in rows for value in table).encode()


def test_encrypted_columns_hold_no_plaintext(db):
    code, student = write_one_of_everything(db)
    stored = stored_bytes(db)
    assert code.encode() in stored  # plain columns are there to be seen...
    for name, plaintext in SECRETS.items():  # ...encrypted and hashed ones are not
        assert plaintext.encode() not in stored, name
    assert b"SECRET" not in stored and b"55556666" not in stored
    assert b"gAAAAA" in stored  # Fernet tokens are what is there instead
    with db.raw() as connection:
        assert (
            connection.execute(text("SELECT description FROM cases")).scalar().startswith("gAAAAA")
        )
    # ...and the application reads the plaintext back.
    with db.session() as session:
        case = session.execute(select(Case)).scalar_one()
        assert case.description == SECRETS["description"]
        assert case.urls == [SECRETS["url"]]
        assert case.when_happened == SECRETS["when"]
        assert case.evidence[0].name == SECRETS["evidence_name"]
        assert session.execute(select(Handoff.sender_id)).scalar_one() == SECRETS["sender"]
        assert session.execute(select(Counsellor.phone)).scalar_one() == "+821098765432"
        message = session.execute(select(OutboxMessage)).scalar_one()
        assert (message.recipient, message.body) == ("+821055556666", SECRETS["body"])
        assert message.last_error == SECRETS["error"]
        assert sms_phone(session, student) == "+821077778888"


def test_in_place_changes_to_links_are_saved(db):
    with db.session() as session:
        case_id = new_case(session, "s", urls=["https://a.example"]).id
    with db.session() as session:
        case = session.get(Case, case_id)
        case.urls.append("https://b.example")
    with db.session() as session:
        assert session.get(Case, case_id).urls == ["https://a.example", "https://b.example"]


def test_another_key_cannot_read_the_data(db):
    write_one_of_everything(db)
    engine: Engine = create_db_engine(db.url, fernet_key())
    try:
        with Session(engine, future=True) as session:
            with pytest.raises(DecryptionError, match="JIKIMI_SECRET_KEY"):
                session.execute(select(Case.description)).all()
    finally:
        engine.dispose()


def test_key_rotation_reencrypts_everything_with_the_new_key(db, tmp_path):
    old_key, new_key = db.settings.secret_key, fernet_key()
    write_one_of_everything(db)
    with db.raw() as connection:
        before = connection.execute(text("SELECT description FROM cases")).scalar()

    rotating = settings_for(db.url, tmp_path, f"{new_key},{old_key}")
    with session_scope(rotating) as session:
        assert reencrypt_all(session) == 6  # case, evidence, counsellor, handoff, outbox, sms

    with db.raw() as connection:
        assert connection.execute(text("SELECT description FROM cases")).scalar() != before
    for key, readable in ((new_key, True), (old_key, False)):
        engine = create_db_engine(db.url, key)
        try:
            with Session(engine, future=True) as session:
                if readable:
                    assert (
                        session.execute(select(Case)).scalar_one().description
                        == SECRETS["description"]
                    )
                    assert (
                        session.execute(select(OutboxMessage.body)).scalar_one() == SECRETS["body"]
                    )
                else:
                    with pytest.raises(DecryptionError):
                        session.execute(select(Case.description)).all()
        finally:
            engine.dispose()


def test_lookup_hashes_are_keyed_and_survive_rotation():
    old_key, new_key = fernet_key(), fernet_key()
    digest = Keyring(old_key).digest("sender-1")
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert Keyring(old_key).digest("sender-1") == digest
    assert Keyring(old_key).digest("sender-2") != digest
    assert Keyring(new_key).digest("sender-1") != digest  # not a plain hash: needs the key
    assert Keyring(f"{new_key},{old_key}").digest("sender-1") == digest  # last key hashes


@pytest.mark.parametrize("secret", ["", " , ", "not-a-fernet-key", f"{'A' * 44},x"])
def test_bad_keys_are_refused_with_a_clear_message(secret):
    with pytest.raises(ValueError, match="JIKIMI_SECRET_KEY"):
        Keyring(secret)


# --- models ----------------------------------------------------------------------------


def test_codes_are_short_random_and_free_of_look_alikes(db):
    codes = {new_code() for _ in range(300)}
    assert len(codes) == 300
    for code in codes:
        assert CODE_PATTERN.fullmatch(code), code
        assert not set(code[3:]) & set("01OIL")
    with db.session() as session:
        assert CODE_PATTERN.fullmatch(new_case(session, "s").code)
        assert CODE_PATTERN.fullmatch(new_handoff(session, "s").code)


def test_times_come_back_as_aware_utc(db):
    captured = datetime(2025, 2, 14, 21, 30, tzinfo=KST)
    with db.session() as session:
        case = new_case(session, "s")
        case.evidence.append(EvidenceItem(kind="note", captured_at=captured))
    with db.session() as session:
        item = session.execute(select(EvidenceItem)).scalar_one()
        assert item.captured_at == captured and item.captured_at.tzinfo == timezone.utc
        assert item.created_at.tzinfo == timezone.utc
    with pytest.raises(StatementError, match="aware"), db.session() as session:
        new_case(session, "s", closed_at=datetime(2025, 1, 1))


def test_evidence_is_validated():
    item = EvidenceItem(kind="screenshot", sha256=" " + "AB" * 32 + "\n")
    assert item.sha256 == "ab" * 32
    for bad in ("ab" * 31, "zz" * 32, "ab" * 33, ""):
        with pytest.raises(ValueError, match="sha256"):
            EvidenceItem(kind="screenshot", sha256=bad)
    with pytest.raises(ValueError, match="kind"):
        EvidenceItem(kind="video")
    with pytest.raises(ValueError, match="risk_level"):
        Case(risk_level="extreme")


def test_deleting_a_case_in_the_database_deletes_its_evidence(db):
    with db.session() as session:
        case = new_case(session, "s")
        case.evidence += [EvidenceItem(kind="note"), EvidenceItem(kind="url")]
    # A plain DELETE through our engine: SQLite enforces foreign keys only when asked.
    with get_engine(db.settings).begin() as connection:
        connection.execute(text("DELETE FROM cases"))
    assert db.count("evidence_items") == 0


def test_handoff_transitions_follow_the_flow():
    handoff = Handoff(state="requested")
    for state, minute in (("notified", 1), ("accepted", 2), ("closed", 9)):
        handoff.advance(state, NOW + timedelta(minutes=minute))
    assert (handoff.notified_at, handoff.accepted_at, handoff.closed_at) == (
        NOW + timedelta(minutes=1),
        NOW + timedelta(minutes=2),
        NOW + timedelta(minutes=9),
    )
    assert not handoff.active
    declined = Handoff(state="notified")
    declined.advance("declined", NOW)
    declined.advance("escalated", NOW)
    assert declined.declined_at == declined.escalated_at == NOW
    for start, target in (
        ("requested", "accepted"),
        ("closed", "notified"),
        ("accepted", "expired"),
    ):
        with pytest.raises(ValueError, match=f"{start} to {target}"):
            Handoff(state=start).advance(target, NOW)


# --- phone numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("010-1234-5678", "+821012345678"),
        ("01012345678", "+821012345678"),
        ("+82 10 1234 5678", "+821012345678"),
        ("+82-10-1234-5678", "+821012345678"),
        ("+82 010 1234 5678", "+821012345678"),
        ("(010) 1234.5678", "+821012345678"),
        ("０１０－１２３４－５６７８", "+821012345678"),
        ("011-123-4567", "+82111234567"),
        ("+14155550100", "+14155550100"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(text, expected):
    assert normalise_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "010-1234-567",
        "010-1234-56789",
        "02-123-4567",
        "+82 2 123 4567",
        "1012345678",
        "010-abcd-5678",
        "+1 415",
        "+821012345678x",
    ],
)
def test_invalid_phone_numbers_are_refused_with_a_clear_message(text):
    with pytest.raises(ValueError, match="number"):
        normalise_phone(text)


@given(
    digits=st.text("0123456789", min_size=8, max_size=8),
    form=st.sampled_from(
        [
            "010-{a}-{b}",
            "010{a}{b}",
            "+82 10 {a} {b}",
            "+82-10-{a}-{b}",
            "0082 10 {a} {b}",
            " 010 {a} {b} ",
        ]
    ),
)
def test_every_spelling_of_a_mobile_number_is_the_same_number(digits, form):
    spelled = form.format(a=digits[:4], b=digits[4:])
    assert normalise_phone(spelled) == "+8210" + digits
    assert normalise_phone(normalise_phone(spelled)) == "+8210" + digits


@given(st.text(max_size=20))
def test_any_text_is_either_a_number_or_a_value_error(text):
    try:
        result = normalise_phone(text)
    except ValueError:
        return
    assert result.startswith("+") and result[1:].isdigit() and 9 <= len(result) <= 16


# --- counsellors and SMS contacts ------------------------------------------------------


def test_counsellors_are_found_by_any_spelling_of_their_number(db):
    with db.session() as session:
        kim = add_counsellor(session, "김상담", "010-1111-2222", priority=2)
        lee = add_counsellor(session, "이상담", "+82 10 3333 4444", priority=1)
        park = add_counsellor(session, "박상담", "010-5555-6666", priority=0)
        park.active = False
        with pytest.raises(ValueError, match="already registered"):
            add_counsellor(session, "중복", "01011112222")
    with db.session() as session:
        assert counsellor_by_phone(session, "+821011112222").id == kim.id
        assert counsellor_by_phone(session, "010 3333 4444").id == lee.id
        assert counsellor_by_phone(session, "+821099990000") is None
        assert counsellor_by_phone(session, "not a number") is None
        assert [c.name for c in on_call_counsellors(session)] == ["이상담", "김상담"]


def test_an_sms_student_gets_one_opaque_id(db):
    with db.session() as session:
        first = sms_sender_id(session, "010-1234-5678", NOW)
    with db.session() as session:
        assert sms_sender_id(session, "+821012345678", NOW + timedelta(hours=1)) == first
        assert sms_sender_id(session, "010-8765-4321", NOW) != first
        assert session.get(SmsContact, first).last_seen_at == NOW + timedelta(hours=1)
        assert sms_phone(session, first) == "+821012345678"
        assert sms_phone(session, "sms-unknown") is None
    assert first.startswith("sms-") and "12345678" not in first


def test_two_first_messages_at_once_get_the_same_id(db):
    """The second insert waits for the first and then yields to it (ON CONFLICT)."""
    results: List[str] = []
    errors: List[BaseException] = []

    def second() -> None:
        try:
            with db.session() as session:
                results.append(sms_sender_id(session, "010-2468-1357", NOW))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    with db.session() as session:
        first = sms_sender_id(session, "010-2468-1357", NOW)
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # the second one now waits on our uncommitted row
    thread.join(10)
    assert not errors and results == [first]
    assert db.count("sms_contacts") == 1


# --- outbox ----------------------------------------------------------------------------


def test_outbox_claims_due_messages_oldest_first_and_leases_them(db):
    with db.session() as session:
        late = enqueue(session, "010-1111-1111", "later", NOW)
        late.next_attempt_at = NOW + timedelta(minutes=5)
        ids = [
            enqueue(session, "010-1111-1111", f"m{i}", NOW - timedelta(minutes=i)).id
            for i in range(3)
        ]
    with db.session() as session:
        claimed = claim_due(session, 2, NOW)
        assert [m.id for m in claimed] == [ids[2], ids[1]]
        assert [(m.status, m.attempts, m.recipient) for m in claimed] == [
            ("sending", 1, "+821011111111")
        ] * 2
        assert [m.body for m in claim_due(session, 10, NOW)] == ["m0"]
    with db.session() as session:
        assert claim_due(session, 10, NOW) == []  # all leased or not yet due
    # A dispatcher that died: its rows come back once the lease has run out.
    with db.session() as session:
        again = claim_due(session, 10, NOW + timedelta(minutes=1, seconds=1))
        assert sorted(m.id for m in again) == sorted(ids)
        assert {m.attempts for m in again} == {2}


def test_outbox_records_success_and_backs_off_after_failure(db):
    with db.session() as session:
        a, b, c = (enqueue(session, "01022223333", f"m{i}", NOW).id for i in range(3))
        claim_due(session, 3, NOW)
    with db.session() as session:
        assert mark_sent(session, a, "SM123", NOW) is True
        assert mark_sent(session, a, "SM123", NOW) is False  # not ours any more
        assert mark_failed(session, b, "HTTP 500", NOW) is True
        assert mark_failed(session, c, "invalid number", NOW, permanent=True) is True
    with db.session() as session:
        sent, retry, failed = (session.get(OutboxMessage, i) for i in (a, b, c))
        assert (sent.status, sent.provider_id, sent.sent_at) == ("sent", "SM123", NOW)
        assert (retry.status, retry.next_attempt_at) == ("queued", NOW + timedelta(seconds=30))
        assert retry.last_error == "HTTP 500"
        assert failed.status == "failed"
    # Each failure doubles the wait; after max_attempts the message is given up.
    waits = []
    for attempt in range(2, 5):
        now = NOW + timedelta(days=attempt)
        with db.session() as session:
            assert [m.id for m in claim_due(session, 10, now)] == [b]
            mark_failed(session, b, "HTTP 500", now, max_attempts=4)
            message = session.get(OutboxMessage, b)
            waits.append(message.next_attempt_at - now if message.status == "queued" else None)
    assert waits == [timedelta(seconds=60), timedelta(seconds=120), None]
    assert db.count("outbox_messages WHERE status = 'failed'") == 2


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite has no row locks
def test_two_dispatchers_on_postgresql_never_claim_one_message(db):
    with db.session() as session:
        ids = {enqueue(session, "01033334444", f"m{i}", NOW).id for i in range(10)}
    with db.session() as first, db.session() as second:
        taken_first = {m.id for m in claim_due(first, 4, NOW)}
        # Without SKIP LOCKED the second would wait on the first's rows: fail fast instead.
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        taken_second = {m.id for m in claim_due(second, 10, NOW)}
    assert len(taken_first) == 4 and len(taken_second) == 6
    assert taken_first | taken_second == ids


def test_concurrent_dispatchers_claim_every_message_exactly_once(db):
    with db.session() as session:
        ids = [enqueue(session, "01055556666", f"m{i}", NOW).id for i in range(40)]
    claimed: List[int] = []
    errors: List[BaseException] = []

    def dispatcher() -> None:
        try:
            while True:
                with db.session() as session:
                    batch = [m.id for m in claim_due(session, 3, NOW)]
                if not batch:
                    return
                claimed.extend(batch)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    assert sorted(claimed) == sorted(ids)  # all of them, none twice


# --- erasure and retention -------------------------------------------------------------


def test_delete_conversation_data_erases_that_conversation_only(db):
    with db.session() as session:
        student = sms_sender_id(session, "010-1212-3434", NOW)
        other = "web-other-conversation"
        for sender, evidence in ((student, 2), (other, 1)):
            case = new_case(session, sender)
            case.evidence += [EvidenceItem(kind="note") for _ in range(evidence)]
            first = new_handoff(session, sender, case=case, state="expired")
            new_handoff(session, sender, case=case, escalated_from_id=first.id)
            enqueue(session, "010-1212-3434", "reply", NOW, sender)
        sent = enqueue(session, "010-9999-0000", "notice about the student", NOW, student)
        sent.status = "sent"

    with db.session() as session:
        counts = delete_conversation_data(session, student)
    assert counts == {"evidence": 2, "handoffs": 2, "outbox": 2, "cases": 1, "sms_contacts": 1}
    with db.session() as session:
        assert sms_phone(session, student) is None
        assert delete_conversation_data(session, student) == dict.fromkeys(counts, 0)
        (case,) = session.execute(select(Case)).scalars()
        assert case.sender_hash == sender_hash(session, other) and len(case.evidence) == 1
        assert session.execute(select(func.count(Handoff.id))).scalar() == 2
        assert session.execute(select(func.count(OutboxMessage.id))).scalar() == 1


def test_purge_removes_only_what_is_finished_and_past_retention(db):
    old, recent = NOW - timedelta(days=100), NOW - timedelta(days=10)
    with db.session() as session:
        old_closed = new_case(session, "a")
        old_closed.evidence += [EvidenceItem(kind="note"), EvidenceItem(kind="url")]
        old_closed.close(old)
        new_case(session, "b").close(recent)
        kept_open = new_case(session, "c", created_at=old)
        new_handoff(session, "a", state="closed", requested_at=old, closed_at=old)
        escalated = new_handoff(
            session, "d", state="escalated", requested_at=old, expired_at=old, escalated_at=old
        )
        successor = new_handoff(
            session, "d", state="accepted", requested_at=old, escalated_from_id=escalated.id
        )
        new_handoff(session, "e", state="closed", requested_at=old, closed_at=recent)
        for status, created in (("sent", old), ("failed", old), ("queued", old), ("sent", recent)):
            message = enqueue(session, "01012345678", status, created)
            message.status = status
        stale = sms_sender_id(session, "010-4444-0000", old)
        sms_sender_id(session, "010-4444-1111", recent)

    with db.session() as session:
        counts = purge_older_than(session, 30, NOW)
    assert counts == {"evidence": 2, "cases": 1, "handoffs": 2, "outbox": 2, "sms_contacts": 1}
    with db.session() as session:
        assert session.get(Case, kept_open.id) is not None
        assert session.get(Case, old_closed.id) is None
        assert session.get(Handoff, successor.id).escalated_from_id is None
        assert sorted(session.execute(select(OutboxMessage.body)).scalars()) == ["queued", "sent"]
        assert sms_phone(session, stale) is None
    assert db.count("cases") == 2 and db.count("handoffs") == 2
