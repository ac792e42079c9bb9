package tenant

import "time"

// Watching reports whether WatchChanges is listening (tests wait for it
// before relying on notifications).
func (s *Service) Watching() bool { return s.watching.Load() }

// CachedLong reports whether code/env is cached for longer than an
// unwatched entry lives: a read that raced a notification is cached only
// briefly, and tests relying on the long cache wait until it is.
func (s *Service) CachedLong(code, env string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[code+"/"+env]
	return ok && time.Until(c.expires) > envCacheTTL
}
