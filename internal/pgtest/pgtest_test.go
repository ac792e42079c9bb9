package pgtest_test

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
)

const noMainEnv = "PGTEST_HELPER_NO_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(noMainEnv) != "" {
		// For TestNewWithoutMain: a test binary whose TestMain forgot pgtest.
		os.Exit(m.Run())
	}
	pgtest.Main(m)
}

// TestIsolation runs two tests at once, each writing to its own database,
// and checks that each has the schema and sees only its own rows.
func TestIsolation(t *testing.T) {
	if os.Getenv(noMainEnv) != "" {
		t.Skip("helper run")
	}
	wrote := map[string]chan struct{}{"alpha": make(chan struct{}), "beta": make(chan struct{})}
	other := map[string]string{"alpha": "beta", "beta": "alpha"}
	for i, code := range []string{"alpha", "beta"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.New(t)
			requireSchema(t, pool)

			_, err := pool.Exec(t.Context(), "INSERT INTO tenants (partner_code, partner_id, name) VALUES ($1, $2, $1)", code, i+1)
			require.NoError(t, err)
			close(wrote[code])
			// Count only once the other test has written too, so that
			// shared tables would show two rows.
			select {
			case <-wrote[other[code]]:
			case <-time.After(30 * time.Second):
				t.Fatal("the other test never wrote (run with -parallel 2 or more)")
			}
			var codes []string
			rows, err := pool.Query(t.Context(), "SELECT partner_code FROM tenants")
			require.NoError(t, err)
			codes, err = pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.Equal(t, []string{code}, codes)
		})
	}
}

func requireSchema(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for _, table := range []string{"tenants", "payments", "river_job", "partnerhub_migrations"} {
		var exists bool
		require.NoError(t, pool.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists))
		require.True(t, exists, "table %s missing", table)
	}
	var applied int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM partnerhub_migrations").Scan(&applied))
	require.Positive(t, applied)
}

func TestNewURLDroppedAfterTest(t *testing.T) {
	if os.Getenv(noMainEnv) != "" {
		t.Skip("helper run")
	}
	var url string
	t.Run("uses", func(t *testing.T) {
		url = pgtest.NewURL(t)
		conn, err := pgx.Connect(t.Context(), url)
		require.NoError(t, err)
		var one int
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) + 1 FROM tenants").Scan(&one))
		require.Equal(t, 1, one)
		// Left open on purpose: the drop must cope with a leaked connection.
	})
	_, err := pgx.Connect(t.Context(), url)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "database still there after its test: %v", err)
	require.Equal(t, "3D000", pgErr.Code) // invalid_catalog_name
}

func TestNewWithoutMain(t *testing.T) {
	if os.Getenv(noMainEnv) != "" {
		t.Skip("helper run")
	}
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperNoMain$")
	cmd.Env = append(os.Environ(), noMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "a test calling New without pgtest.Main must fail:\n%s", out)
	require.Contains(t, string(out), "func TestMain(m *testing.M) { pgtest.Main(m) }")
}

// TestHelperNoMain is not a test: TestNewWithoutMain runs it in a test
// binary that skipped pgtest.Main.
func TestHelperNoMain(t *testing.T) {
	if os.Getenv(noMainEnv) == "" {
		t.Skip("helper for TestNewWithoutMain")
	}
	pgtest.New(t)
	t.Log("New returned without Main")
}
