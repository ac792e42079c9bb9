package migrations_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
)

// TestFulfilmentLinksWithoutForeignKeys checks that the triggers of 0013 do
// what the dropped foreign keys' ON DELETE actions did: a deleted plugin's
// links are cleared, a deleted tenant takes its records and attempts along.
func TestFulfilmentLinksWithoutForeignKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)

	count := func(table string) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	var tenants [2]int64
	var pluginID int64
	for i, code := range []string{"acme", "other"} {
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO tenants (partner_code, partner_id, name)
			VALUES ($1, $2, $1) RETURNING id`, code, i+1).Scan(&tenants[i]))
	}
	require.NoError(t, pool.QueryRow(ctx, `WITH blob AS (INSERT INTO plugin_blobs (sha256, size, data)
			VALUES (repeat('a', 64), 1, 'x') RETURNING sha256)
		INSERT INTO plugins (tenant_id, name, version, sha256, os, arch)
		SELECT $1, 'p', '1', sha256, 'linux', 'amd64' FROM blob RETURNING id`, tenants[0]).Scan(&pluginID))
	for _, tid := range tenants {
		_, err := pool.Exec(ctx, `WITH p AS (INSERT INTO payments (tenant_id, environment, reference, partner_reference,
				status, amount, currency_code, country_code, customer_id, payment_method, status_updated_at, created_date)
			VALUES ($1, 'staging', 'C-1-P', 'o-1', 'SUCCESSFUL', 1, 'NGN', 'NG', 7, 'CARD', now(), now()) RETURNING id),
			f AS (INSERT INTO fulfilments (tenant_id, environment, payment_id, kind, idempotency_key, plugin_id, attempts)
			SELECT $1, 'staging', id, 'fulfil', 'k', $2, 1 FROM p RETURNING id, plugin_id)
			INSERT INTO fulfilment_attempts (fulfilment_id, number, plugin_id) SELECT id, 1, plugin_id FROM f`, tid, pluginID)
		require.NoError(t, err)
	}

	_, err := pool.Exec(ctx, `DELETE FROM plugins WHERE id = $1`, pluginID)
	require.NoError(t, err)
	require.Equal(t, 2, count("fulfilments"), "records outlive their plugin")
	require.Equal(t, 2, count("fulfilment_attempts"))
	require.Zero(t, count("fulfilments WHERE plugin_id IS NOT NULL"), "the links are cleared")
	require.Zero(t, count("fulfilment_attempts WHERE plugin_id IS NOT NULL"))

	_, err = pool.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, tenants[0])
	require.NoError(t, err)
	require.Zero(t, count("fulfilments WHERE tenant_id = "+strconv.FormatInt(tenants[0], 10)), "a deleted tenant's records go")
	require.Equal(t, 1, count("fulfilments"), "another tenant's stay")
	require.Equal(t, 1, count("fulfilment_attempts"), "and so do their attempts, only theirs")
	require.Zero(t, count("fulfilment_attempts a WHERE NOT EXISTS (SELECT 1 FROM fulfilments f WHERE f.id = a.fulfilment_id)"))
}
