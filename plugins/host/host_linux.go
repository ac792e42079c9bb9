package host

import (
	"errors"
	"fmt"
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
	// cred is the user plugins run as; nil when the host is not root and
	// plugins simply run as the host's own user.
	cred   *syscall.Credential
	user   string
	limits []rlimit
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

func newSandbox(runAs string, l Limits) (sandbox, error) {
	var sb sandbox
	if os.Geteuid() == 0 {
		cred, err := runAsCredential(runAs)
		if err != nil {
			return sandbox{}, err
		}
		sb.cred, sb.user = cred, runAs
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
	if l.Processes > 0 && sb.cred != nil {
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
func (s sandbox) procAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: s.cred}
	if len(s.limits) > 0 {
		attr.Credential = nil
	}
	return attr
}

// command returns the executable and argv that start bin: bin itself, or
// this executable as the shim that limits and then execs it.
func (s sandbox) command(bin string) (path string, args []string) {
	if len(s.limits) == 0 {
		return bin, []string{bin}
	}
	return "/proc/self/exe", shimArgs(s, bin)
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
