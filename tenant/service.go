package tenant

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/seal"
)

// envCacheTTL bounds how long a node keeps serving an environment it read:
// webhooks resolve their tenant on every call, and a change made on another
// node (key rotation, suspension) is seen within this time.
const envCacheTTL = 2 * time.Second

// envCacheMax bounds the cache; past it the cache starts over.
const envCacheMax = 100_000

// Service is the tenant package's entry point.
type Service struct {
	pool  *pgxpool.Pool
	box   *seal.Box
	store store

	mu    sync.Mutex
	cache map[string]cachedEnv
}

type cachedEnv struct {
	env     Env
	err     error
	expires time.Time
}

// NewService returns a Service over pool, sealing secrets with box.
func NewService(pool *pgxpool.Pool, box *seal.Box) *Service {
	return &Service{pool: pool, box: box, cache: map[string]cachedEnv{}}
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
// Signing Key, returned once in Created.
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
	return Created{Tenant: t, StagingSigningKey: key}, nil
}

// Get returns the tenant with partnerCode code, or ErrNotFound.
func (s *Service) Get(ctx context.Context, code string) (Tenant, error) {
	if !ValidPartnerCode(code) {
		return Tenant{}, ErrNotFound
	}
	return s.store.tenantByCode(ctx, s.pool, code)
}

// Env resolves a tenant environment for the Pay1st-facing endpoints, from a
// short-lived cache. Unknown tenants are cached too, so a flood of calls for a
// missing partnerCode does not reach the database each time.
func (s *Service) Env(ctx context.Context, code, env string) (Env, error) {
	if !ValidPartnerCode(code) || !ValidEnv(env) {
		return Env{}, ErrNotFound
	}
	k := code + "/" + env
	now := time.Now()
	s.mu.Lock()
	c, ok := s.cache[k]
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
	s.cache[k] = cachedEnv{env: e, err: err, expires: now.Add(envCacheTTL)}
	s.mu.Unlock()
	return e, err
}

func (s *Service) loadEnv(ctx context.Context, code, env string) (Env, error) {
	r, err := s.store.env(ctx, s.pool, code, env)
	if err != nil {
		return Env{}, err
	}
	if r.sealedKey != nil {
		key, err := s.box.Open(r.sealedKey, signingKeyContext(r.TenantID, r.Name))
		if err != nil {
			return Env{}, fmt.Errorf("open signing key of %s/%s: %w", code, env, err)
		}
		r.SigningKey = string(key)
	}
	return r.Env, nil
}

// forget drops cached environments of a tenant after a change on this node.
func (s *Service) forget(code string) {
	s.mu.Lock()
	delete(s.cache, code+"/"+Staging)
	delete(s.cache, code+"/"+Production)
	s.mu.Unlock()
}

// SetActivePluginTx makes pluginID, one of t's plugins, the active plugin of
// a tenant environment. This node forgets its cached environment at once;
// other nodes (and a read racing this transaction) see the change within
// envCacheTTL.
func (s *Service) SetActivePluginTx(ctx context.Context, tx pgx.Tx, t Tenant, env string, pluginID int64) error {
	if err := s.store.setActivePlugin(ctx, tx, t.ID, env, pluginID); err != nil {
		return err
	}
	s.forget(t.PartnerCode)
	return nil
}
