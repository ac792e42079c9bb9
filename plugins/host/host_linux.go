package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// sandbox holds the Linux-specific process settings.
type sandbox struct {
	root bool // the host runs as root: plugins switch user
	// cred is RunAsUser (nil when the host is not root): the shared plugin
	// user when uids is disabled, else only whom older working
	// directories are taken over from.
	cred   *syscall.Credential
	user   string
	uids   uidRange
	limits []rlimit
}

// ident is the user one plugin process runs as; a nil cred is the host's
// own user (the host is not root).
type ident struct{ cred *syscall.Credential }

func (id ident) String() string {
	if id.cred == nil {
		return "the host's user"
	}
	return fmt.Sprintf("%d:%d", id.cred.Uid, id.cred.Gid)
}

// identFor is the user key's process runs as: its tenant environment's own
// with a uid range, else the shared RunAsUser, or the host's own user.
func (s sandbox) identFor(key Key) (ident, error) {
	switch {
	case !s.root:
		return ident{}, nil
	case s.uids.enabled():
		uid, err := s.uids.uidFor(key)
		if err != nil {
			return ident{}, err
		}
		return ident{&syscall.Credential{Uid: uid, Gid: uid}}, nil
	}
	return ident{s.cred}, nil
}

// rlimit is one resource limit set on each plugin process.
type rlimit struct {
	name     string
	resource int
	value    uint64
}

// Resource numbers not in package syscall. RLIMIT_NPROC is 6 on Linux
// except on MIPS (8) and SPARC (7), which Go's linux/mips* ports are.
var rlimitNPROC = map[bool]int{false: 6, true: 8}[strings.HasPrefix(runtime.GOARCH, "mips")]

// uidGID is a numeric "uid:gid" RunAsUser, which needs no passwd entry.
var uidGID = regexp.MustCompile(`^([0-9]+):([0-9]+)$`)

func newSandbox(runAs string, uids uidRange, l Limits) (sandbox, error) {
	sb := sandbox{uids: uids}
	if os.Geteuid() == 0 {
		cred, err := runAsCredential(runAs)
		if err != nil {
			return sandbox{}, err
		}
		sb.root, sb.cred, sb.user = true, cred, runAs
		if uids.contains(cred.Uid) || uids.contains(cred.Gid) {
			return sandbox{}, fmt.Errorf("run-as user %s lies in the per-tenant plugin uid range", runAs)
		}
	}
	if l.MemoryBytes > 0 {
		sb.limits = append(sb.limits, rlimit{"address space", syscall.RLIMIT_AS, l.MemoryBytes})
	}
	if l.CPUTime > 0 {
		secs := uint64((l.CPUTime + time.Second - 1) / time.Second)
		sb.limits = append(sb.limits, rlimit{"cpu time", syscall.RLIMIT_CPU, secs})
	}
	// RLIMIT_NPROC counts every process of the user. Plugins of a non-root
	// host run as the host's own user, whose count includes the host and
	// whatever else that user runs: the limit would not mean anything.
	if l.Processes > 0 && sb.root {
		sb.limits = append(sb.limits, rlimit{"processes", rlimitNPROC, l.Processes})
	}
	if l.OpenFiles > 0 {
		sb.limits = append(sb.limits, rlimit{"open files", syscall.RLIMIT_NOFILE, l.OpenFiles})
	}
	if len(sb.limits) > 0 {
		if !shimReady.Load() {
			return sandbox{}, errors.New("plugin resource limits need host.SandboxMain() at the start of main")
		}
		// No core dumps either: they would hold the plugin's settings.
		sb.limits = append(sb.limits, rlimit{"core", syscall.RLIMIT_CORE, 0})
	}
	return sb, nil
}

// runAsCredential resolves RunAsUser: a user name or "uid:gid".
func runAsCredential(runAs string) (*syscall.Credential, error) {
	var uidStr, gidStr string
	if m := uidGID.FindStringSubmatch(runAs); m != nil {
		uidStr, gidStr = m[1], m[2]
	} else {
		u, err := user.Lookup(runAs)
		if err != nil {
			return nil, fmt.Errorf("run-as user: %w", err)
		}
		uidStr, gidStr = u.Uid, u.Gid
	}
	uid, err := strconv.ParseUint(uidStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run-as user %s: uid %q: %w", runAs, uidStr, err)
	}
	gid, err := strconv.ParseUint(gidStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run-as user %s: gid %q: %w", runAs, gidStr, err)
	}
	if uid == 0 || gid == 0 {
		return nil, fmt.Errorf("run-as user %s is root or in group root: plugins never run as root", runAs)
	}
	// No Groups: the child drops root's supplementary groups (setgroups(0)).
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// procAttr kills the plugin with SIGKILL when the host dies, so no plugin
// outlives it, puts it in a process group of its own (so whatever it forks
// can be killed with it), and switches to the unprivileged user when we are
// root. Go applies the parent-death signal after changing user, so the
// switch does not clear it. (Linux ties it to the forking thread; Go only
// ends threads of goroutines that exit while locked to one, which go-plugin
// never does.)
//
// With limits, the shim (shim_linux.go) switches user itself, after setting
// them.
func (s sandbox) procAttr(id ident) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: id.cred}
	if len(s.limits) > 0 {
		attr.Credential = nil
	}
	return attr
}

// command returns the executable and argv that start bin: bin itself, or
// this executable as the shim that limits and then execs it.
func (s sandbox) command(bin string, id ident) (path string, args []string) {
	if len(s.limits) == 0 {
		return bin, []string{bin}
	}
	return "/proc/self/exe", shimArgs(s, id, bin)
}

// prlimit is prlimit(2); pid 0 is the calling process.
func prlimit(pid, resource int, set, old *syscall.Rlimit) error {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(resource),
		uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(old)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// waitExit blocks until pid has exited, without reaping it: while it is a
// zombie its pid, and so its process group id, cannot be reused.
func waitExit(pid int) (string, bool) {
	const pPID = 1
	// siginfo_t is 128 bytes: signo, errno, code (int32 each), then a union
	// aligned like a pointer which for CLD_* starts pid, uid, status.
	var info [32]int32
	union := 3
	if unsafe.Sizeof(uintptr(0)) == 8 {
		union = 4
	}
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
		case syscall.EINTR:
			continue
		default:
			return "", false
		}
		break
	}
	const (
		cldExited = 1
		cldKilled = 2
		cldDumped = 3
	)
	code, st := info[2], info[union+2]
	switch code {
	case cldExited:
		return fmt.Sprintf("exit status %d", st), true
	case cldKilled, cldDumped:
		return "killed by signal " + syscall.Signal(st).String(), true
	}
	return fmt.Sprintf("ended (code %d, status %d)", code, st), true
}

// killGroup sends SIGKILL to the process group pgid: what a plugin left
// behind dies with it. A child that left the group (setsid) is not reached.
func killGroup(pgid int) {
	if pgid > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// own gives the plugin's user its directory (working or socket directory).
// Only the directory itself: see adopt for what is inside.
func (s sandbox) own(dir string, id ident) error {
	if id.cred == nil {
		return nil
	}
	return os.Lchown(dir, int(id.cred.Uid), int(id.cred.Gid))
}

// checkReachable fails early when a plugin user could not reach dir (so
// could not exec a cached binary or enter its working directory): every
// directory from dir up to / must be searchable by it. With a uid range,
// by the first user of the range, which owns nothing there: so by anyone.
func (s sandbox) checkReachable(dir string) error {
	if !s.root {
		return nil
	}
	cred, name := s.cred, s.user
	if s.uids.enabled() {
		cred = &syscall.Credential{Uid: s.uids.base, Gid: s.uids.base}
		name = "the per-tenant plugin users"
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
		if perm&0o001 == 0 && (st.Gid != cred.Gid || perm&0o010 == 0) && (st.Uid != cred.Uid || perm&0o100 == 0) {
			return fmt.Errorf("%s (mode %v) is not searchable by %s: plugins could not reach %s", p, perm, name, dir)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// isBusy reports exec's ETXTBSY (see busyRetries).
func isBusy(err error) bool { return errors.Is(err, syscall.ETXTBSY) }

// adopt hands what an earlier plugin user left in dir (the shared
// RunAsUser before per-tenant users were turned on, or another uid of the
// range) to id, so that a tenant's data survives the switch. Called only
// when dir itself changes owner. It goes through os.Root, so a symlink never
// leads outside dir, and leaves alone what no plugin user owns and any
// non-directory with more than one link: chowning that would also hand
// over the file behind its other name. It returns what it left alone.
func (s sandbox) adopt(dir string, id ident) ([]string, error) {
	if id.cred == nil {
		return nil, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = root.Close() }()
	var skipped []string
	err = fs.WalkDir(root.FS(), ".", func(path string, _ fs.DirEntry, err error) error {
		if err != nil || path == "." {
			return err
		}
		fi, err := root.Lstat(path)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || (st.Uid == id.cred.Uid && st.Gid == id.cred.Gid) {
			return nil
		}
		if !s.pluginUser(st.Uid) || (!fi.IsDir() && st.Nlink > 1) {
			skipped = append(skipped, path)
			return nil
		}
		return root.Lchown(path, int(id.cred.Uid), int(id.cred.Gid))
	})
	return skipped, err
}

// pluginUser reports whether uid is one plugins run as.
func (s sandbox) pluginUser(uid uint32) bool {
	return (s.cred != nil && uid == s.cred.Uid) || s.uids.contains(uid)
}

// ownedBy reports whether path's owner is already id's user.
func ownedBy(path string, id ident) bool {
	if id.cred == nil {
		return true
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == id.cred.Uid && st.Gid == id.cred.Gid
}
