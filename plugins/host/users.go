package host

import "fmt"

// uidRange is Config.UIDBase and UIDCount: the users tenant environments'
// plugins run as. A zero base means one shared user (RunAsUser).
type uidRange struct{ base, count uint32 }

func (r uidRange) enabled() bool { return r.base != 0 }

// envSlots numbers the environments within a tenant's pair of uids.
var envSlots = map[string]int64{"staging": 0, "production": 1}

// uidFor is the uid (and gid) of key's tenant environment: base +
// 2*TenantID + the environment's slot. Stable across restarts and nodes,
// so working directories keep their owner.
func (r uidRange) uidFor(key Key) (uint32, error) {
	slot, ok := envSlots[key.Env]
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: environment %q has no plugin user (staging or production)", ErrInvalidKey, key.Env)
	case key.TenantID <= 0:
		return 0, fmt.Errorf("%w: tenant id %d: per-tenant plugin users need the tenant's id", ErrInvalidKey, key.TenantID)
	}
	n := uint64(key.TenantID)*2 + uint64(slot)
	if key.TenantID > int64(r.count) || n >= uint64(r.count) {
		return 0, fmt.Errorf("%w: tenant id %d is beyond the %d plugin users from uid %d: raise the uid count",
			ErrInvalidKey, key.TenantID, r.count, r.base)
	}
	return r.base + uint32(n), nil
}

// contains reports whether uid is one of the range's users.
func (r uidRange) contains(uid uint32) bool {
	return r.enabled() && uid >= r.base && uint64(uid) < uint64(r.base)+uint64(r.count)
}
