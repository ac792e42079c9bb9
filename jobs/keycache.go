package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
)

// keyCacheTTL is how long a resolved plugin key (checksum and opened
// settings) is reused. Activating another plugin takes effect at once (the
// plugin id is part of the cache key); a settings change within this time.
const keyCacheTTL = time.Second

// keyCache remembers ActiveKey per tenant environment and plugin briefly:
// every job needs it, and resolving it is a query and a decryption.
type keyCache struct {
	mu      sync.Mutex
	entries map[plugins.ActiveRef]keyEntry
	now     func() time.Time
}

type keyEntry struct {
	key     host.Key
	expires time.Time
}

func newKeyCache() *keyCache {
	return &keyCache{entries: map[plugins.ActiveRef]keyEntry{}, now: time.Now}
}

// activeKey returns ref's plugin key, from the cache while fresh. Errors
// are not cached.
func (c *keyCache) activeKey(ctx context.Context, r *plugins.Registry, ref plugins.ActiveRef) (host.Key, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[ref]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	key, err := r.ActiveKey(ctx, ref)
	if err != nil {
		c.forget(ref)
		return host.Key{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 10000 { // many tenants: drop the expired ones
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[ref] = keyEntry{key: key, expires: now.Add(keyCacheTTL)}
	return key, nil
}

// forget drops ref, after its plugin could not be started or called: the
// next job resolves it afresh.
func (c *keyCache) forget(ref plugins.ActiveRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, ref)
}
