package cli

import (
	"flag"
	"strconv"
	"time"
)

// Helpers shared by the studio verbs (plugin, payments, fulfilments,
// test-transactions): the tenant and environment every one of them names,
// and how times and optional values show in tables.

// scope is the tenant (and environment) a studio command acts on.
type scope struct {
	tenant, env string
	withEnv     bool
}

// scopeFlags adds --tenant and, when withEnv, --env (staging by default).
func scopeFlags(fs *flag.FlagSet, withEnv bool) *scope {
	s := &scope{withEnv: withEnv}
	fs.StringVar(&s.tenant, "tenant", "", "the tenant's partnerCode (required)")
	if withEnv {
		fs.StringVar(&s.env, "env", "staging", "the environment: staging or production")
	}
	return s
}

// check is the scope's usage errors: a tenant is required, the environment
// one of the two.
func (s *scope) check() error {
	if s.tenant == "" {
		return usageErrorf("--tenant is required")
	}
	if !s.withEnv {
		return nil
	}
	return checkEnvName("--env", s.env, true)
}

// checkEnvName refuses anything but staging or production ("" when optional).
func checkEnvName(flagName, v string, required bool) error {
	switch {
	case v == "staging" || v == "production":
		return nil
	case v == "" && !required:
		return nil
	}
	return usageErrorf("%s must be staging or production, not %q", flagName, v)
}

// timeCell is a time in a table: UTC to the second.
func timeCell(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// timePtrCell is an optional time in a table.
func timePtrCell(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return timeCell(*t)
}

// int64Cell is an optional number in a table.
func int64Cell(n *int64) string {
	if n == nil {
		return "-"
	}
	return strconv.FormatInt(*n, 10)
}

// parseID reads a positional id (a positive integer).
func parseID(what, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, usageErrorf("%s must be a positive integer, not %q", what, s)
	}
	return n, nil
}
