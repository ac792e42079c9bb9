package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// syncBuffer is a log sink the workers, the host and River write to at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setSettings stores a tenant environment's plugin settings.
func (b bundle) setSettings(t testing.TB, code string, settings map[string]string) {
	t.Helper()
	ctx := context.Background()
	tn, err := b.tenants.Get(ctx, code)
	require.NoError(t, err)
	require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		_, err := b.registry.SetSettingsTx(ctx, tx, tn.ID, tenant.Staging, settings)
		return err
	}))
}

// TestPluginTextRedacted: a plugin that quotes its settings — in a call
// error, in a rejection's reason, in its Configure error — does not get
// them into the fulfilment record, its attempts, River's job errors, the
// logs, or what the API serves (list-fulfilments and the timeline read the
// record and its attempts).
func TestPluginTextRedacted(t *testing.T) {
	t.Parallel()
	const secret, secret2 = "s3cr3t-api-key-ACME", "s3cr3t-api-key-BETA"
	logs := &syncBuffer{}
	b := setupWith(t, options{logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		tune: func(c *jobs.Config) { c.MaxAttempts = 1 }})
	b.setSettings(t, "acme", map[string]string{"api_key": secret})
	b.setSettings(t, "beta", map[string]string{"api_key": secret2, "refuse": "yes"})
	b.start()
	ctx := context.Background()

	callErr := b.pay(t, "acme", "C-LEAK-ERR-P", 8) // error quoting api_key
	s := b.waitFor(t, callErr, "discarded")
	require.Equal(t, payment.StateFailed, s.FState)
	require.Contains(t, s.LastErr, "game API refused api_key [redacted]", "the plugin's words stay, its secret does not")

	rejected := b.pay(t, "acme", "C-LEAK-REJ-P", 9) // rejection quoting api_key
	s = b.waitFor(t, rejected, "cancelled")
	require.Contains(t, s.LastErr, "rejected by plugin: account of api_key [redacted] suspended")

	start := b.pay(t, "beta", "C-LEAK-START-P", 1) // Configure refuses, quoting api_key
	s = b.waitFor(t, start, "discarded")
	require.Contains(t, s.LastErr, "plugin unavailable")
	require.Contains(t, s.LastErr, "[redacted]")

	var stored string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT
		(SELECT string_agg(last_error || ' ' || result_reference, ' ') FROM fulfilments) || ' ' ||
		(SELECT string_agg(reason, ' ') FROM fulfilment_attempts) || ' ' ||
		(SELECT string_agg(errors::text, ' ') FROM river_job)`).Scan(&stored))
	require.Contains(t, stored, "[redacted]")

	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	page, err := b.payments.ListFulfilments(ctx, payment.FulfilmentFilter{TenantID: acme.ID})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	tl, err := b.payments.Timeline(ctx, acme.ID, tenant.Staging, "C-LEAK-ERR-P")
	require.NoError(t, err)
	require.Len(t, tl.Attempts, 1)
	require.Equal(t, payment.OutcomeFailed, tl.Attempts[0].Outcome)
	served := []string{stored, logs.String()}
	for _, it := range page.Items {
		served = append(served, it.LastError)
	}
	for _, a := range tl.Attempts {
		served = append(served, a.Reason)
	}
	for _, text := range served {
		require.NotContains(t, text, secret)
		require.NotContains(t, text, secret2)
		require.NotContains(t, text, "pid ", "no host process ids")
	}
	require.True(t, strings.Contains(logs.String(), "attempt failed"), "the logs were captured")
}
