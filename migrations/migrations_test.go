package migrations_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestUpIsIdempotentAndDownReverses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t) // already migrated once by pgtest
	logger := slog.New(slog.DiscardHandler)

	all, err := migrations.All()
	require.NoError(t, err)
	require.NotEmpty(t, all)
	for i, m := range all {
		require.Equal(t, i+1, m.Version, "versions are consecutive from 1")
	}

	require.NoError(t, migrations.Up(ctx, pool, logger), "a second run changes nothing")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM partnerhub_migrations`).Scan(&n))
	require.Equal(t, len(all), n)

	// Every down migration undoes its up: run them all, then up again.
	for i := len(all) - 1; i >= 0; i-- {
		_, err := pool.Exec(ctx, all[i].Down)
		require.NoError(t, err, "down %04d", all[i].Version)
		_, err = pool.Exec(ctx, `DELETE FROM partnerhub_migrations WHERE version = $1`, all[i].Version)
		require.NoError(t, err)
	}
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'tenants'`).Scan(&n))
	require.Zero(t, n)
	require.NoError(t, migrations.Up(ctx, pool, logger))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename IN ('tenants', 'payments', 'river_job')`).Scan(&n))
	require.Equal(t, 3, n)
}
