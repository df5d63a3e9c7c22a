"""Adopted runs and the append-only audit log.

``runs`` gains who adopted it, when, and the note; ``audit_log`` records who created, ran,
cancelled, archived, restored or adopted which scenario, run or sweep, and when.

Database triggers (SQLite and PostgreSQL) hold what the app promises even against a hand
-written statement: an audit entry is never updated or deleted (nor, on PostgreSQL, the
table truncated); an adopted run is never updated or deleted; the scenario version an
adopted run ran is never updated (archived) or deleted. A later migration that recreates
``runs``, ``scenarios`` or ``audit_log`` on SQLite (``batch_alter_table`` copying the table)
drops their triggers and must create them again (:func:`create_triggers`);
``tests/api/test_audit.py`` checks that they hold after every migration.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

_SQLITE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries are never changed'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries are never deleted'); END",
    "CREATE TRIGGER runs_adopted_no_update BEFORE UPDATE ON runs "
    "WHEN OLD.adopted_at IS NOT NULL "
    "BEGIN SELECT RAISE(ABORT, 'an adopted run is frozen'); END",
    "CREATE TRIGGER runs_adopted_no_delete BEFORE DELETE ON runs "
    "WHEN OLD.adopted_at IS NOT NULL "
    "BEGIN SELECT RAISE(ABORT, 'an adopted run is frozen'); END",
    "CREATE TRIGGER scenarios_adopted_no_update BEFORE UPDATE ON scenarios "
    "WHEN EXISTS (SELECT 1 FROM runs WHERE runs.scenario_id = OLD.id "
    "AND runs.adopted_at IS NOT NULL) "
    "BEGIN SELECT RAISE(ABORT, 'the scenario version of an adopted run is frozen'); END",
    "CREATE TRIGGER scenarios_adopted_no_delete BEFORE DELETE ON scenarios "
    "WHEN EXISTS (SELECT 1 FROM runs WHERE runs.scenario_id = OLD.id "
    "AND runs.adopted_at IS NOT NULL) "
    "BEGIN SELECT RAISE(ABORT, 'the scenario version of an adopted run is frozen'); END",
)
_SQLITE_DROP = (
    "audit_log_no_update",
    "audit_log_no_delete",
    "runs_adopted_no_update",
    "runs_adopted_no_delete",
    "scenarios_adopted_no_update",
    "scenarios_adopted_no_delete",
)

_POSTGRESQL = (
    """CREATE FUNCTION allot_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only: entries are never changed or deleted';
    END $$""",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION allot_audit_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION allot_audit_append_only()",
    """CREATE FUNCTION allot_adopted_run_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'run % is adopted and frozen', OLD.id;
    END $$""",
    "CREATE TRIGGER runs_adopted_frozen BEFORE UPDATE OR DELETE ON runs FOR EACH ROW "
    "WHEN (OLD.adopted_at IS NOT NULL) EXECUTE FUNCTION allot_adopted_run_frozen()",
    """CREATE FUNCTION allot_adopted_scenario_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM runs WHERE runs.scenario_id = OLD.id
                   AND runs.adopted_at IS NOT NULL) THEN
            RAISE EXCEPTION 'scenario % is the scenario version of an adopted run and frozen',
                OLD.id;
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER scenarios_adopted_frozen BEFORE UPDATE OR DELETE ON scenarios "
    "FOR EACH ROW EXECUTE FUNCTION allot_adopted_scenario_frozen()",
)
_POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS scenarios_adopted_frozen ON scenarios",
    "DROP TRIGGER IF EXISTS runs_adopted_frozen ON runs",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS allot_adopted_scenario_frozen()",
    "DROP FUNCTION IF EXISTS allot_adopted_run_frozen()",
    "DROP FUNCTION IF EXISTS allot_audit_append_only()",
)


def create_triggers() -> None:
    """The guards, in the dialect of the database being migrated."""
    dialect = op.get_bind().dialect.name
    statements = _POSTGRESQL if dialect == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("adopted_by", sa.String(200), nullable=True))
        runs.add_column(sa.Column("adopted_at", _TS, nullable=True))
        runs.add_column(sa.Column("adoption_note", sa.Text(), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_kind", "subject_id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL_DROP:
            op.execute(statement)
    else:
        for name in _SQLITE_DROP:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("audit_log")
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("adoption_note")
        runs.drop_column("adopted_at")
        runs.drop_column("adopted_by")
