package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnect backoff of WatchChanges: it starts at watchBackoffMin after a
// failure, doubles on each further failure, and never exceeds watchBackoffMax.
const (
	watchBackoffMin = 100 * time.Millisecond
	watchBackoffMax = 5 * time.Second
)

// WatchApplicationName is the application_name of WatchChanges' connection,
// so operators (and tests) can tell it apart in pg_stat_activity.
const WatchApplicationName = "partnerhub-tenant-watch"

// WatchChanges keeps this node's environment cache in step with tenant
// writes made on any node: it LISTENs on a dedicated connection (not one of
// the pool's) and forgets a tenant's cached environments when its change
// is announced. While it listens, cached environments live
// envCacheWatchedTTL; while it cannot (before it connects, after the
// connection fails and until it is back), envCacheTTL. On a connection
// error it clears the whole cache (notifications may have been missed),
// waits (watchBackoffMin doubling to watchBackoffMax) and reconnects.
// It runs until ctx is done, then closes its connection and returns nil; it
// returns an error at once only if connString cannot be parsed.
func (s *Service) WatchChanges(ctx context.Context, connString string) error {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		// pgx's parse error may quote the string, password included.
		return errors.New("watch tenant changes: invalid connection string")
	}
	cfg.RuntimeParams["application_name"] = WatchApplicationName
	backoff := watchBackoffMin
	for {
		listened, err := s.watchOnce(ctx, cfg)
		s.watching.Store(false)
		s.forgetAll()
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = watchBackoffMin
		}
		s.logger.WarnContext(ctx, "tenant change watcher lost its connection; caching briefly until it is back",
			"err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

// watchOnce connects, listens and forgets announced tenants until the
// connection fails or ctx is done. listened reports whether LISTEN took
// effect (so the backoff starts over).
func (s *Service) watchOnce(ctx context.Context, cfg *pgx.ConnConfig) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if err := s.store.listenChanged(ctx, conn); err != nil {
		return false, err
	}
	// Anything cached before now may predate a change we were not told of.
	s.forgetAll()
	s.watching.Store(true)
	s.logger.DebugContext(ctx, "listening for tenant changes")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		if ValidPartnerCode(n.Payload) {
			s.forget(n.Payload)
		} else {
			// Not ours to interpret: be safe.
			s.forgetAll()
		}
	}
}
