package tenant

import (
	"context"
	"fmt"

	"github.com/partnerhub/partnerhub/internal/db"
)

// changedChannel is the Postgres NOTIFY channel on which a tenant write
// announces the partnerCode it changed, so every node drops its cached
// environments of that tenant (WatchChanges).
const changedChannel = "partnerhub_tenant_changed"

// notifyChanged queues a notification for code. Called inside the writing
// transaction: Postgres delivers it on commit and drops it on rollback.
func (store) notifyChanged(ctx context.Context, q db.Querier, code string) error {
	if _, err := q.Exec(ctx, `SELECT pg_notify($1, $2)`, changedChannel, code); err != nil {
		return fmt.Errorf("notify tenant change: %w", err)
	}
	return nil
}

// listenChanged subscribes q's session to changedChannel.
func (store) listenChanged(ctx context.Context, q db.Querier) error {
	if _, err := q.Exec(ctx, `LISTEN `+changedChannel); err != nil {
		return fmt.Errorf("listen for tenant changes: %w", err)
	}
	return nil
}
