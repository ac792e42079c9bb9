package host

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sandbox holds the Linux-specific process settings.
type sandbox struct {
	// cred is the user plugins run as; nil when the host is not root and
	// plugins simply run as the host's own user.
	cred *syscall.Credential
	user string
}

func newSandbox(runAs string) (sandbox, error) {
	if os.Geteuid() != 0 {
		return sandbox{}, nil
	}
	u, err := user.Lookup(runAs)
	if err != nil {
		return sandbox{}, fmt.Errorf("run-as user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return sandbox{}, fmt.Errorf("run-as user %s: uid %q: %w", runAs, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return sandbox{}, fmt.Errorf("run-as user %s: gid %q: %w", runAs, u.Gid, err)
	}
	if uid == 0 {
		return sandbox{}, fmt.Errorf("run-as user %s is root: plugins never run as root", runAs)
	}
	// No Groups: the child drops root's supplementary groups (setgroups(0)).
	return sandbox{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, user: runAs}, nil
}

// procAttr kills the plugin with SIGKILL when the host dies, so no plugin
// outlives it, and switches to the unprivileged user when we are root. Go
// applies the parent-death signal after changing user, so the switch does
// not clear it. (Linux ties it to the forking thread; Go only ends threads
// of goroutines that exit while locked to one, which go-plugin never does.)
func (s sandbox) procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: s.cred}
}

// own gives the plugin's user its working directory. Only the directory
// itself: chowning what a plugin put inside would follow its hard links.
func (s sandbox) own(dir string) error {
	if s.cred == nil {
		return nil
	}
	return os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid))
}

// checkReachable fails early when the plugin user could not reach dir (so
// could not exec a cached binary or enter its working directory): every
// directory from dir up to / must be searchable by it.
func (s sandbox) checkReachable(dir string) error {
	if s.cred == nil {
		return nil
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no ownership information", p)
		}
		perm := fi.Mode().Perm()
		if perm&0o001 == 0 && (st.Gid != s.cred.Gid || perm&0o010 == 0) && (st.Uid != s.cred.Uid || perm&0o100 == 0) {
			return fmt.Errorf("%s (mode %v) is not searchable by %s: plugins could not reach %s", p, perm, s.user, dir)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// isBusy reports exec's ETXTBSY (see busyRetries).
func isBusy(err error) bool { return errors.Is(err, syscall.ETXTBSY) }

// removeStaleSocket deletes the Unix socket a crashed plugin left in /tmp
// (its temp dir: its environment is empty). The path comes from the plugin,
// so only a socket named like go-plugin's, directly in /tmp, is touched.
func removeStaleSocket(path string) {
	if filepath.Dir(path) != "/tmp" || !strings.HasPrefix(filepath.Base(path), "plugin") {
		return
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		return
	}
	_ = os.Remove(path)
}
