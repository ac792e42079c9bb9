//go:build linux

package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// canSwitchUser reports whether Start can run Postgres as Options.RunAs when
// the process is root.
const canSwitchUser = true

// sysProcAttr puts the child in its own process group, so that a Ctrl-C on the
// terminal reaches only partnerhub, which then stops Postgres in order (after
// its own connections are closed) instead of both racing; switches to the
// unprivileged user when root; and asks the kernel to send deathSig to the
// child when its parent dies, so that no server outlives a killed test binary
// or dev command. Go applies the credentials before the death signal, which
// matters: changing credentials clears a death signal set earlier.
func sysProcAttr(as *runAs, deathSig syscall.Signal) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
	if as != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(as.uid), Gid: uint32(as.gid)}
	}
	return attr
}

// checkTraversable fails when user uid (primary group gid, no supplementary
// groups: the child gets none) cannot search dir and each of its parents,
// which Postgres needs to reach its data directory. It follows the kernel's
// rule: the owner bits apply to the owner, else the group bits to the group,
// else the other bits. ACLs are not considered.
func checkTraversable(dir string, as *runAs) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case int(st.Uid) == as.uid:
			can = perm&0o100 != 0
		case int(st.Gid) == as.gid:
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return fmt.Errorf("%w: user %s (uid %d) cannot enter %s (mode %v, owner uid %d), a parent of the cluster directory %s; "+
				"use a directory whose parents are searchable by %s (e.g. under /tmp or a 0755 directory)",
				ErrUnreachableDir, as.name, as.uid, p, perm, st.Uid, dir, as.name)
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}

// processesIn lists the processes running executable exe ("" for any) with
// working directory dir. The postmaster and all its children (forked, not
// exec'd, so the same executable) work in the data directory, which makes
// this the reliable way to find them: children rewrite their command lines
// ("postgres: checkpointer") and, being session leaders, are in no process
// group of ours. Processes this user may not inspect are not listed.
func processesIn(dir, exe string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if yes, _ := runsIn(pid, dir, exe); yes {
			pids = append(pids, pid)
		}
	}
	return pids
}

// runsIn reports whether process pid runs executable exe ("" for any) in
// directory dir: false for a process that is gone or a zombie. known is false
// when that cannot be told (a process this user may not inspect).
func runsIn(pid int, dir, exe string) (yes, known bool) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(proc, "stat"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, true
	}
	if err != nil {
		return false, false
	}
	// The state follows the command name, in parentheses that may
	// themselves hold ") ".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
		return false, true
	}
	cwd, err := os.Readlink(filepath.Join(proc, "cwd"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, true // exited meanwhile
	}
	if err != nil {
		return false, false
	}
	if cwd != dir {
		return false, true
	}
	if exe == "" {
		return true, true
	}
	got, err := os.Readlink(filepath.Join(proc, "exe"))
	if err != nil {
		return false, false
	}
	// A binary replaced by a package upgrade while running shows as deleted.
	return strings.TrimSuffix(got, " (deleted)") == exe, true
}

// lockStart serialises Start on one directory across processes, so that two
// callers starting at once cannot run initdb over each other; the second
// then finds the first's server running. The kernel drops the lock if the
// holder dies.
func lockStart(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "start.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pglocal: start lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("pglocal: start lock: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("pglocal: waiting for another start in %s: %w", dir, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
