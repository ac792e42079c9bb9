package tenant

// Watching reports whether WatchChanges is listening (tests wait for it
// before relying on notifications).
func (s *Service) Watching() bool { return s.watching.Load() }
