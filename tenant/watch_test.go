package tenant_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/tenant"
)

// Windows of the watch tests: a notified change must be seen well within
// seen, far below the 5-minute TTL of a watched cache and below the 2 s TTL
// of an unwatched one (entries are cached just before each change).
const (
	seen = time.Second
	tick = 10 * time.Millisecond
)

// node is one partnerhub instance's tenant service with its watcher.
type node struct {
	svc  *tenant.Service
	stop func()
}

type cluster struct {
	pool *pgxpool.Pool
	a, b node
	acme tenant.Tenant
}

// setupCluster starts two services ("nodes") on one database, both
// watching, and creates tenant acme through a.
func setupCluster(t *testing.T) cluster {
	t.Helper()
	url := pgtest.NewURL(t)
	pool, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	start := func() node {
		svc := tenant.NewService(pool, box)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		var watchErr error
		go func() {
			defer close(done)
			watchErr = svc.WatchChanges(ctx, url)
		}()
		n := node{svc: svc, stop: func() {
			cancel()
			<-done
			require.NoError(t, watchErr)
		}}
		// Registered after the database's drop and the pool's close: runs first.
		t.Cleanup(n.stop)
		require.Eventually(t, svc.Watching, 10*time.Second, tick, "watcher listening")
		return n
	}
	c := cluster{pool: pool, a: start(), b: start()}
	created, err := c.a.svc.Create(t.Context(), tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	c.acme = created.Tenant
	return c
}

// envOf reads code's staging environment through n, failing the test on error.
func envOf(t *testing.T, n node, code string) tenant.Env {
	t.Helper()
	e, err := n.svc.Env(t.Context(), code, tenant.Staging)
	require.NoError(t, err)
	return e
}

// seenBy waits until n's Env of code satisfies ok.
func seenBy(t *testing.T, n node, code string, ok func(tenant.Env) bool, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		e, err := n.svc.Env(t.Context(), code, tenant.Staging)
		return err == nil && ok(e)
	}, seen, tick, msg)
}

// behindTheCache changes code's staging success callback in the database
// without announcing it, as a lost notification would: only a cache miss
// reveals it.
func behindTheCache(t *testing.T, pool *pgxpool.Pool, code, url string) {
	t.Helper()
	tag, err := pool.Exec(t.Context(), `UPDATE environments e SET callback_success_url = $2
		FROM tenants t WHERE e.tenant_id = t.id AND t.partner_code = $1 AND e.name = 'staging'`, code, url)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

func TestWatchOtherNodesChanges(t *testing.T) {
	t.Parallel()
	c := setupCluster(t)
	ctx := t.Context()

	// Node B has acme cached; A suspends it.
	require.Equal(t, tenant.StatusActive, envOf(t, c.b, "acme").TenantStatus)
	_, err := c.a.svc.Suspend(ctx, "acme")
	require.NoError(t, err)
	seenBy(t, c.b, "acme", func(e tenant.Env) bool { return e.TenantStatus == tenant.StatusSuspended }, "B sees A's suspension")

	// Signing key rotation.
	old := envOf(t, c.b, "acme").SigningKey
	r, err := c.a.svc.RotateSigningKey(ctx, c.acme, tenant.Staging)
	require.NoError(t, err)
	require.NotEqual(t, old, r.Secret)
	seenBy(t, c.b, "acme", func(e tenant.Env) bool { return e.SigningKey == r.Secret }, "B sees A's new signing key")

	// Settings.
	require.Empty(t, envOf(t, c.b, "acme").IPAllowList)
	_, err = c.a.svc.UpdateEnvironment(ctx, c.acme, tenant.Staging, tenant.EnvPatch{IPAllowList: &[]string{"203.0.113.0/24"}})
	require.NoError(t, err)
	seenBy(t, c.b, "acme", func(e tenant.Env) bool { return len(e.IPAllowList) == 1 }, "B sees A's allow-list")

	// A tenant B looked up before it existed.
	_, err = c.b.svc.Env(ctx, "newco", tenant.Staging)
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = c.a.svc.Create(ctx, tenant.CreateParams{PartnerCode: "newco", PartnerID: 2, Name: "New"})
	require.NoError(t, err)
	seenBy(t, c.b, "newco", func(e tenant.Env) bool { return e.PartnerID == 2 }, "B sees the new tenant")
}

func TestWatchRolledBackChangeSendsNothing(t *testing.T) {
	t.Parallel()
	c := setupCluster(t)
	ctx := t.Context()
	_, err := c.a.svc.Create(ctx, tenant.CreateParams{PartnerCode: "other", PartnerID: 2, Name: "Other"})
	require.NoError(t, err)

	// B caches acme, then its name changes unannounced: B keeps serving the
	// cached one (watched entries live long) until told to forget. A read
	// that raced the notification of "other" is cached briefly: read again
	// until B holds acme for long.
	require.Eventually(t, func() bool {
		return envOf(t, c.b, "acme").Callbacks.Success == "" && c.b.svc.CachedLong("acme", tenant.Staging)
	}, 20*time.Second, tick, "B caches acme for long")
	behindTheCache(t, c.pool, "acme", "https://hidden.example/ok")

	tx, err := c.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = c.a.svc.SuspendTx(ctx, tx, "acme")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	// Notifications arrive in commit order: once B has seen this later
	// change, it would have seen the rolled-back one.
	envOf(t, c.b, "other")
	_, err = c.a.svc.Suspend(ctx, "other")
	require.NoError(t, err)
	seenBy(t, c.b, "other", func(e tenant.Env) bool { return e.TenantStatus == tenant.StatusSuspended }, "B sees the committed change")

	e := envOf(t, c.b, "acme")
	require.Empty(t, e.Callbacks.Success, "B was not told to forget acme")
	require.Equal(t, tenant.StatusActive, e.TenantStatus)
}

func TestWatchReconnects(t *testing.T) {
	t.Parallel()
	c := setupCluster(t)
	ctx := t.Context()

	listeners := func() []int32 {
		rows, err := c.pool.Query(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1`, tenant.WatchApplicationName)
		require.NoError(t, err)
		var pids []int32
		for rows.Next() {
			var pid int32
			require.NoError(t, rows.Scan(&pid))
			pids = append(pids, pid)
		}
		require.NoError(t, rows.Err())
		return pids
	}
	before := listeners()
	require.Len(t, before, 2, "one listening connection per node")

	// A read that raced the notification of acme's creation is cached
	// only briefly: read again until B holds acme for long.
	require.Eventually(t, func() bool {
		return envOf(t, c.b, "acme").Callbacks.Success == "" && c.b.svc.CachedLong("acme", tenant.Staging)
	}, 20*time.Second, tick, "B caches acme for long")
	behindTheCache(t, c.pool, "acme", "https://missed.example/ok")
	require.Empty(t, envOf(t, c.b, "acme").Callbacks.Success, "cached while watching")

	for _, pid := range before {
		_, err := c.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
		require.NoError(t, err)
	}
	// B may have missed notifications: its whole cache goes.
	seenBy(t, c.b, "acme", func(e tenant.Env) bool { return e.Callbacks.Success == "https://missed.example/ok" }, "cache cleared after the connection died")

	require.Eventually(t, func() bool {
		return c.a.svc.Watching() && c.b.svc.Watching()
	}, 10*time.Second, tick, "watchers reconnect")
	require.Len(t, listeners(), 2)

	require.Equal(t, tenant.StatusActive, envOf(t, c.b, "acme").TenantStatus)
	_, err := c.a.svc.Suspend(ctx, "acme")
	require.NoError(t, err)
	seenBy(t, c.b, "acme", func(e tenant.Env) bool { return e.TenantStatus == tenant.StatusSuspended }, "B sees changes again after reconnecting")

	// Stopping a watcher closes its connection.
	c.b.stop()
	require.False(t, c.b.svc.Watching())
	require.Eventually(t, func() bool { return len(listeners()) == 1 }, 10*time.Second, tick, "B's connection closed")
}
