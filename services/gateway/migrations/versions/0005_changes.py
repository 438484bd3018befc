"""the change feed for GET /stream: one row per change a client may hear of (ids and
statuses only), written by the projector's folds, pruned after an hour

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import services.gateway.database.core

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'changes',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('entity_id', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('vacancy_id', sa.String(length=64), nullable=True),
        sa.Column('employer_id', sa.String(length=64), nullable=True),
        sa.Column('worker_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', services.gateway.database.core.UtcDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_changes')),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_changes_created_at'), ['created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_changes_created_at'))
    op.drop_table('changes')
