package tenant

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/seal"
)

// The environment cache: webhooks resolve their tenant on every call, so each
// node caches what it read. A change made on another node (key rotation,
// suspension, settings) reaches it through Postgres NOTIFY (WatchChanges).
const (
	// envCacheTTL bounds how long a node serves an environment it read while
	// it is not listening for changes (no watcher, or its connection is
	// down), and always for "not found": a change is then seen within it.
	envCacheTTL = 2 * time.Second
	// envCacheWatchedTTL is how long an environment read while the watcher
	// is listening stays cached: changes arrive by notification, so this
	// only bounds the harm of one that got lost.
	envCacheWatchedTTL = 5 * time.Minute
)

// envCacheMax bounds the cache; past it the cache starts over.
const envCacheMax = 100_000

// Service is the tenant package's entry point.
type Service struct {
	pool   *pgxpool.Pool
	box    *seal.Box
	store  store
	logger *slog.Logger
	// now stamps credential changes; grace is how long a replaced Signing
	// Key or webhook token still verifies (environment settings).
	now   func() time.Time
	grace time.Duration

	mu    sync.Mutex
	cache map[string]cachedEnv
	// epoch counts forgets and clears (under mu): a read that saw it change
	// while loading may hold data older than the change, and is cached
	// with the short TTL only.
	epoch uint64
	// watching is set while WatchChanges is listening.
	watching atomic.Bool
}

type cachedEnv struct {
	env     Env
	err     error
	expires time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithLogger makes the Service log to l (what it cannot return, such as a
// failed last-used write); by default it logs nowhere.
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) {
		if l != nil {
			s.logger = l
		}
	}
}

// NewService returns a Service over pool, sealing secrets with box.
func NewService(pool *pgxpool.Pool, box *seal.Box, opts ...Option) *Service {
	s := &Service{pool: pool, box: box, cache: map[string]cachedEnv{}, logger: slog.New(slog.DiscardHandler),
		now: time.Now, grace: DefaultSecretGrace}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewSigningKey returns a random Signing Key in the shape Pay1st issues them.
func NewSigningKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signingKeyContext binds a sealed signing key to its row.
func signingKeyContext(tenantID int64, env string) string {
	return "signing_key:" + strconv.FormatInt(tenantID, 10) + ":" + env
}

// Create creates a tenant with its two environments; staging gets a fresh
// Signing Key, returned once in Created. Audited (tenant.create).
func (s *Service) Create(ctx context.Context, p CreateParams) (Created, error) {
	var c Created
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		c, err = s.CreateTx(ctx, tx, p)
		return err
	})
	if err == nil {
		// A lookup just before may have cached "not found".
		s.forget(p.PartnerCode)
	}
	return c, err
}

// CreateTx is Create inside the caller's transaction.
func (s *Service) CreateTx(ctx context.Context, tx pgx.Tx, p CreateParams) (Created, error) {
	if err := p.Validate(); err != nil {
		return Created{}, err
	}
	t, err := s.store.insertTenant(ctx, tx, p)
	if err != nil {
		return Created{}, err
	}
	key := NewSigningKey()
	if err := s.store.insertEnv(ctx, tx, t.ID, Staging, s.box.Seal([]byte(key), signingKeyContext(t.ID, Staging))); err != nil {
		return Created{}, err
	}
	// Production has no Signing Key until the studio configures one: its
	// webhooks are refused until then.
	if err := s.store.insertEnv(ctx, tx, t.ID, Production, nil); err != nil {
		return Created{}, err
	}
	if err := s.AuditTx(ctx, tx, "tenant.create", t.ID, "tenant:"+t.PartnerCode,
		map[string]any{"partnerId": t.PartnerID, "name": t.Name}); err != nil {
		return Created{}, err
	}
	// Other nodes may have cached "not found".
	if err := s.changedTx(ctx, tx, t.PartnerCode); err != nil {
		return Created{}, err
	}
	return Created{Tenant: t, StagingSigningKey: key}, nil
}

// Get returns the tenant with partnerCode code, or ErrNotFound.
func (s *Service) Get(ctx context.Context, code string) (Tenant, error) {
	if !ValidPartnerCode(code) {
		return Tenant{}, ErrNotFound
	}
	return s.store.tenantByCode(ctx, s.pool, code)
}

// ByID returns the tenant with id, or ErrNotFound: for records of other
// packages that keep the tenant's id (fulfilment reports).
func (s *Service) ByID(ctx context.Context, id int64) (Tenant, error) {
	return s.store.tenantByID(ctx, s.pool, id)
}

// Env resolves a tenant environment for the Pay1st-facing endpoints, from a
// cache kept in step with other nodes' changes by WatchChanges (envCacheTTL
// without it). Unknown tenants are cached too (briefly), so a flood of calls
// for a missing partnerCode does not reach the database each time.
func (s *Service) Env(ctx context.Context, code, env string) (Env, error) {
	if !ValidPartnerCode(code) || !ValidEnv(env) {
		return Env{}, ErrNotFound
	}
	k := code + "/" + env
	now := time.Now()
	watched := s.watching.Load()
	s.mu.Lock()
	c, ok := s.cache[k]
	epoch := s.epoch
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.env, c.err
	}
	e, err := s.loadEnv(ctx, code, env)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Env{}, err // transient: do not cache
	}
	s.mu.Lock()
	if len(s.cache) >= envCacheMax {
		clear(s.cache)
	}
	// Long only if the watcher listened throughout the read and nothing was
	// forgotten meanwhile (the notification may have come before our read's
	// result was stored). A new tenant must not stay unseen long: "not
	// found" keeps the short TTL.
	ttl := envCacheTTL
	if watched && err == nil && s.epoch == epoch && s.watching.Load() {
		ttl = envCacheWatchedTTL
	}
	s.cache[k] = cachedEnv{env: e, err: err, expires: now.Add(ttl)}
	s.mu.Unlock()
	return e, err
}

// forget drops cached environments of a tenant after a change (this
// node's, or another's announced by notification).
func (s *Service) forget(code string) {
	s.mu.Lock()
	delete(s.cache, code+"/"+Staging)
	delete(s.cache, code+"/"+Production)
	s.epoch++
	s.mu.Unlock()
}

// forgetAll drops every cached environment.
func (s *Service) forgetAll() {
	s.mu.Lock()
	clear(s.cache)
	s.epoch++
	s.mu.Unlock()
}

// changedTx announces, inside tx, that tenant code changed: other nodes drop
// their cached environments of it when tx commits (nothing is sent if it
// rolls back). This node forgets at once; callers forget again after commit,
// since a read racing the transaction may have cached the old state.
func (s *Service) changedTx(ctx context.Context, tx pgx.Tx, code string) error {
	if err := s.store.notifyChanged(ctx, tx, code); err != nil {
		return err
	}
	s.forget(code)
	return nil
}

// SetActivePluginTx makes pluginID, one of t's plugins, the active plugin of
// a tenant environment. This node forgets its cached environment at once;
// other nodes are notified on commit (changedTx); callers forget again after
// commit for a read that raced the transaction.
func (s *Service) SetActivePluginTx(ctx context.Context, tx pgx.Tx, t Tenant, env string, pluginID int64) error {
	if err := s.store.setActivePlugin(ctx, tx, t.ID, env, pluginID); err != nil {
		return err
	}
	if err := s.AuditTx(ctx, tx, "environment.activate_plugin", t.ID, "environment:"+env, map[string]any{"pluginId": pluginID}); err != nil {
		return err
	}
	return s.changedTx(ctx, tx, t.PartnerCode)
}

// List returns a page of tenants in id order, of one status or all.
func (s *Service) List(ctx context.Context, f TenantFilter) (TenantPage, error) {
	if f.Status != "" && f.Status != StatusActive && f.Status != StatusSuspended {
		return TenantPage{}, &FieldError{In: "query", Field: "status", Problem: "must be active or suspended"}
	}
	after, err := DecodeCursor(f.Cursor)
	if err != nil {
		return TenantPage{}, err
	}
	limit := PageLimit(f.Limit)
	tenants, err := s.store.listTenants(ctx, s.pool, f.Status, after, limit+1)
	if err != nil {
		return TenantPage{}, err
	}
	page := TenantPage{Tenants: tenants}
	if len(tenants) > limit {
		page.Tenants = tenants[:limit]
		page.NextCursor = EncodeCursor(tenants[limit-1].ID)
	}
	return page, nil
}

// Update changes a tenant's name and contact; nil fields stay. Audited
// (tenant.update, with each changed field's old and new value) when
// something changed; an update that changes nothing writes nothing.
func (s *Service) Update(ctx context.Context, code string, p UpdateParams) (Tenant, error) {
	var t Tenant
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		t, err = s.UpdateTx(ctx, tx, code, p)
		return err
	})
	return t, err
}

// UpdateTx is Update inside the caller's transaction.
func (s *Service) UpdateTx(ctx context.Context, tx pgx.Tx, code string, p UpdateParams) (Tenant, error) {
	if !ValidPartnerCode(code) {
		return Tenant{}, ErrNotFound
	}
	cur, err := s.store.tenantForUpdate(ctx, tx, code)
	if err != nil {
		return Tenant{}, err
	}
	name, contactName, contactEmail := cur.Name, cur.ContactName, cur.ContactEmail
	changes := map[string]any{}
	set := func(field string, dst *string, v *string) {
		if v != nil && *v != *dst {
			changes[field] = map[string]any{"from": *dst, "to": *v}
			*dst = *v
		}
	}
	set("name", &name, p.Name)
	set("contactName", &contactName, p.ContactName)
	set("contactEmail", &contactEmail, p.ContactEmail)
	if err := validateProfile(name, contactName, contactEmail); err != nil {
		return Tenant{}, err
	}
	if len(changes) == 0 {
		return cur, nil
	}
	t, err := s.store.updateProfile(ctx, tx, cur.ID, name, contactName, contactEmail)
	if err != nil {
		return Tenant{}, err
	}
	if err := s.AuditTx(ctx, tx, "tenant.update", t.ID, "tenant:"+t.PartnerCode, map[string]any{"changes": changes}); err != nil {
		return Tenant{}, err
	}
	return t, nil
}

// Suspend suspends a tenant: its Pay1st endpoints answer 503 and still
// record what arrives. This node sees it at once; other nodes when the
// notification arrives (WatchChanges), or within envCacheTTL when they do not
// listen. Idempotent: suspending a suspended tenant changes and
// audits nothing. Audited (tenant.suspend).
func (s *Service) Suspend(ctx context.Context, code string) (Tenant, error) {
	return s.setStatus(ctx, code, StatusSuspended)
}

// SuspendTx is Suspend inside the caller's transaction.
func (s *Service) SuspendTx(ctx context.Context, tx pgx.Tx, code string) (Tenant, error) {
	return s.setStatusTx(ctx, tx, code, StatusSuspended)
}

// Resume makes a suspended tenant active again; idempotent like Suspend.
// Audited (tenant.resume).
func (s *Service) Resume(ctx context.Context, code string) (Tenant, error) {
	return s.setStatus(ctx, code, StatusActive)
}

// ResumeTx is Resume inside the caller's transaction.
func (s *Service) ResumeTx(ctx context.Context, tx pgx.Tx, code string) (Tenant, error) {
	return s.setStatusTx(ctx, tx, code, StatusActive)
}

func (s *Service) setStatus(ctx context.Context, code, status string) (Tenant, error) {
	var t Tenant
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		t, err = s.setStatusTx(ctx, tx, code, status)
		return err
	})
	if err == nil {
		// A webhook racing the transaction may have cached the old status.
		s.forget(code)
	}
	return t, err
}

func (s *Service) setStatusTx(ctx context.Context, tx pgx.Tx, code, status string) (Tenant, error) {
	if !ValidPartnerCode(code) {
		return Tenant{}, ErrNotFound
	}
	cur, err := s.store.tenantForUpdate(ctx, tx, code)
	if err != nil {
		return Tenant{}, err
	}
	if cur.Status == status {
		return cur, nil
	}
	t, err := s.store.setStatus(ctx, tx, cur.ID, status)
	if err != nil {
		return Tenant{}, err
	}
	action := "tenant.resume"
	if status == StatusSuspended {
		action = "tenant.suspend"
	}
	if err := s.AuditTx(ctx, tx, action, t.ID, "tenant:"+t.PartnerCode, map[string]any{"from": cur.Status, "to": status}); err != nil {
		return Tenant{}, err
	}
	if err := s.changedTx(ctx, tx, code); err != nil {
		return Tenant{}, err
	}
	return t, nil
}
