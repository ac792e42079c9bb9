package pglocal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvBinDir names the environment variable that points FindBinDir at a
// specific installation, for machines with several or unusual ones.
const EnvBinDir = "PARTNERHUB_PG_BIN"

// FindBinDir returns the directory holding the PostgreSQL server binaries
// (initdb and postgres). It tries, in order: $PARTNERHUB_PG_BIN; the bindir
// reported by `pg_config --bindir`; the newest /usr/lib/postgresql/*/bin
// (Debian, Ubuntu) or /usr/pgsql-*/bin (RHEL); initdb on $PATH (Fedora, Arch,
// Homebrew). It returns ErrNoPostgres when none has both binaries.
func FindBinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		// An explicit choice that does not work is an error, not a hint:
		// silently using another installation would hide the mistake.
		if hasServer(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%w: $%s=%s holds no initdb and postgres executables", ErrNoPostgres, EnvBinDir, dir)
	}
	// pg_config often comes with the client library package (libpq-dev) alone,
	// so its bindir is only used when the server binaries are really there.
	if dir := pgConfigBinDir(); dir != "" && hasServer(dir) {
		return dir, nil
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		if dir := newest(pattern); dir != "" {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(initdb); hasServer(dir) {
			return dir, nil
		}
	}
	return "", ErrNoPostgres
}

func pgConfigBinDir() string {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	// FindBinDir has no context; a bound keeps a broken pg_config from
	// hanging the caller.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// newest returns the matching directory with the highest version number in
// the path element the wildcard stands for, among those holding the server.
func newest(pattern string) string {
	matches, _ := filepath.Glob(pattern)
	prefix, suffix, _ := strings.Cut(pattern, "*")
	type candidate struct {
		dir     string
		version []int
	}
	var found []candidate
	for _, m := range matches {
		if !hasServer(m) {
			continue
		}
		v := strings.TrimSuffix(strings.TrimPrefix(m, prefix), suffix)
		found = append(found, candidate{dir: m, version: parseVersion(v)})
	}
	if len(found) == 0 {
		return ""
	}
	sort.Slice(found, func(i, j int) bool { return versionLess(found[j].version, found[i].version) })
	return found[0].dir
}

// parseVersion reads "15" or "9.6" as numbers, so that 10 sorts after 9.6.
func parseVersion(s string) []int {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			n = -1
		}
		v = append(v, n)
	}
	return v
}

func versionLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func hasServer(dir string) bool {
	return isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres"))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
