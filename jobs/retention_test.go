package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
)

// TestRetentionPrunesOldDeliveries: the periodic job runs at start (on the
// leader) and deletes deliveries older than the retention, keeping the rest
// and the payment history that pointed at them.
func TestRetentionPrunesOldDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	for _, age := range []string{"100 days", "31 days", "1 hour"} {
		_, err := pool.Exec(ctx, `INSERT INTO deliveries (session_id, received_at, partner_code, environment, kind, remote_addr,
			headers, body, verdict, status_code) VALUES ($1::text, now() - $1::text::interval, 'x', 'staging', 'payment_event', 't', '{}', '', 'rejected', 401)`, age)
		require.NoError(t, err)
	}
	logger := slog.New(slog.DiscardHandler)
	cfg := jobs.Config{Workers: 2, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
		MaxAttempts: 3, DeliveryRetention: 30 * 24 * time.Hour}
	enq, err := jobs.NewEnqueuer(pool, cfg, logger)
	require.NoError(t, err)
	client, err := jobs.NewClient(jobs.Deps{Pool: pool, Payments: payment.NewService(pool, enq), Logger: logger}, cfg)
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})
	require.Eventually(t, func() bool {
		var left []string
		rows, err := pool.Query(ctx, `SELECT session_id FROM deliveries ORDER BY received_at`)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			left = append(left, s)
		}
		return len(left) == 1 && left[0] == "1 hour"
	}, 30*time.Second, 50*time.Millisecond, "only the delivery within the retention remains")
}
