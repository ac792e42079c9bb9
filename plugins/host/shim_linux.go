package host

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The sandbox shim: Go cannot set a child's resource limits between fork
// and exec, and setting them on the running child (prlimit) needs
// CAP_SYS_RESOURCE once the child runs as another user, which containers
// rarely grant. So, when limits are configured, the host starts its own
// executable (/proc/self/exe) under the name shimArg0: SandboxMain in that
// process sets the limits on itself, drops to the plugin user, re-arms the
// parent-death signal (a user switch clears it) and execs the plugin. The
// plugin never runs a single instruction without its limits.

// shimArg0 is argv[0] of a shim process.
const shimArg0 = "partnerhub-plugin-sandbox"

// shimReady records that SandboxMain runs in this binary's main, so that a
// re-executed copy of it becomes the shim instead of running main.
var shimReady atomic.Bool

// SandboxMain must be the first call in main of any binary whose Host has
// resource limits (New refuses limits otherwise). In a process started as
// the sandbox shim it applies the limits and execs the plugin, never
// returning; elsewhere it returns at once.
func SandboxMain() {
	shimReady.Store(true)
	if len(os.Args) == 0 || os.Args[0] != shimArg0 {
		return
	}
	err := runShim(os.Args[1:])
	// Only reached when something failed: the plugin was not started.
	fmt.Fprintln(os.Stderr, "partnerhub plugin sandbox:", err)
	os.Exit(127)
}

// shimArgs encodes what runShim needs: parent pid, uid and gid (-1: keep),
// resource=value pairs, "--", the plugin path.
func shimArgs(s sandbox, id ident, bin string) []string {
	uid, gid := "-1", "-1"
	if id.cred != nil {
		uid, gid = strconv.FormatUint(uint64(id.cred.Uid), 10), strconv.FormatUint(uint64(id.cred.Gid), 10)
	}
	args := []string{shimArg0, strconv.Itoa(os.Getpid()), uid, gid}
	for _, l := range s.limits {
		args = append(args, strconv.Itoa(l.resource)+"="+strconv.FormatUint(l.value, 10))
	}
	return append(args, "--", bin)
}

func runShim(args []string) error {
	if len(args) < 5 || args[len(args)-2] != "--" {
		return fmt.Errorf("bad arguments %q", args)
	}
	ppid, err1 := strconv.Atoi(args[0])
	uid, err2 := strconv.Atoi(args[1])
	gid, err3 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Errorf("bad arguments %q", args[:3])
	}
	bin := args[len(args)-1]
	for _, kv := range args[3 : len(args)-2] {
		res, val, ok := strings.Cut(kv, "=")
		r, err1 := strconv.Atoi(res)
		v, err2 := strconv.ParseUint(val, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("bad limit %q", kv)
		}
		lim := syscall.Rlimit{Cur: v, Max: v}
		if os.Geteuid() != 0 {
			// Without privilege a limit cannot rise above the hard limit.
			var old syscall.Rlimit
			if err := prlimit(0, r, nil, &old); err != nil {
				return fmt.Errorf("read limit %d: %w", r, err)
			}
			lim.Cur, lim.Max = min(v, old.Max), min(v, old.Max)
		}
		if err := prlimit(0, r, &lim, nil); err != nil {
			return fmt.Errorf("set limit %d to %d: %w", r, v, err)
		}
	}
	if uid >= 0 {
		// Supplementary groups first, then group, then user: after setuid
		// nothing else can be changed.
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return fmt.Errorf("setgid %d: %w", gid, err)
		}
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("setuid %d: %w", uid, err)
		}
	}
	// The user switch cleared the parent-death signal: set it again, then
	// make sure the host did not die in between.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		return fmt.Errorf("set parent-death signal: %w", errno)
	}
	if os.Getppid() != ppid {
		return fmt.Errorf("host %d is gone", ppid)
	}
	// The plugin's environment is exactly ours: go-plugin's handshake.
	// ETXTBSY: a child another goroutine of the host forked at the wrong
	// moment may briefly hold the freshly cached binary open for writing.
	var err error
	for attempt := range busyRetries + 1 {
		if err = syscall.Exec(bin, []string{bin}, os.Environ()); !errors.Is(err, syscall.ETXTBSY) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return fmt.Errorf("exec %s: %w", bin, err)
}
