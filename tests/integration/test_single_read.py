"""db.single_read: one SELECT without a transaction around it, on a pooled connection that
goes back to the pool as it came (the next user gets ordinary transactions)."""

from __future__ import annotations

from sqlalchemy import text

from lti_tool.db import make_engine, single_read


def test_single_read_leaves_no_transaction_and_restores_the_connection(database_url):
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE single_read_probe (n INTEGER)"))
        with single_read(engine) as conn:
            assert conn.execute(text("SELECT count(*) FROM single_read_probe")).scalar() == 0
            raw = conn.connection.dbapi_connection
            if engine.dialect.name == "postgresql":
                import psycopg

                assert raw.autocommit  # no BEGIN was sent, no ROLLBACK will be
                assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with engine.connect() as conn:  # the same pooled connection, back to normal
            assert conn.connection.dbapi_connection is raw
            conn.execute(text("INSERT INTO single_read_probe (n) VALUES (1)"))
            conn.rollback()  # a real transaction: the row is gone again
        with single_read(engine) as conn:
            assert conn.execute(text("SELECT count(*) FROM single_read_probe")).scalar() == 0
    finally:
        engine.dispose()
