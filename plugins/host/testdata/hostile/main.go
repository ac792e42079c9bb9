// Command hostile is a test-only plugin that misbehaves on request, so host
// tests can check that the pool and the sandbox contain it.
//
// Before serving it reads a file named "mode" in its working directory:
//
//   - "exit": exits at once, like a program that is not a plugin.
//   - "garbage": prints nonsense on stdout instead of the handshake.
//   - "silent": prints nothing and never serves.
//
// Fulfil acts on the player ID:
//
//   - "crash": exits mid-call.
//   - "hang": blocks forever, ignoring the call's deadline.
//   - "slow": answers after 300ms.
//   - "garbage": writes garbage to stdout and stderr, then answers.
//   - "alloc": allocates (and touches) memory without bound.
//   - "fork": starts copies of itself that sleep, until it cannot; the
//     result's reference says how many, its reason why it stopped.
//   - "spin": burns CPU forever.
//   - "read:<path>", "write:<path>", "list:<path>", "kill:<pid>": tries to
//     read, overwrite or list another tenant's files, or SIGKILL another
//     process; the result's reason is "ok" (plus what it read) or the error.
//   - anything else: fulfilled.
//
// LookupUser reports in ErrorMessage what it could find of the host's
// secrets: its own environment, then "\n--\n", then the host's
// /proc/<ppid>/environ or the error reading it.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

type hostile struct{ sdk.Unimplemented }

func (hostile) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "hostile", Version: "0.0.1", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{sdk.CapabilityLookupUser, sdk.CapabilityFulfil}}, nil
}

func (hostile) Configure(context.Context, sdk.ConfigureRequest) error { return nil }

func (hostile) LookupUser(context.Context, sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	found := strings.Join(os.Environ(), "\n") + "\n--\n"
	host, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", os.Getppid()))
	if err != nil {
		found += "error: " + err.Error()
	} else {
		found += strings.ReplaceAll(string(host), "\x00", "\n")
	}
	return sdk.LookupUserResponse{Found: true, UserID: "snoop", ErrorMessage: found}, nil
}

var hoard [][]byte // what "alloc" keeps

func (hostile) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	if op, arg, ok := strings.Cut(req.PlayerID, ":"); ok {
		return sdk.Result{Outcome: sdk.OutcomeFulfilled, Reference: op, Reason: trespass(op, arg)}, nil
	}
	switch req.PlayerID {
	case "crash":
		os.Exit(3)
	case "hang":
		select {}
	case "slow":
		time.Sleep(300 * time.Millisecond)
	case "garbage":
		junk := make([]byte, 200<<10)
		_, _ = rand.Read(junk)
		_, _ = os.Stdout.Write(junk)
		_, _ = os.Stderr.Write(junk[:4<<10])
		_, _ = os.Stdout.WriteString("\n1|1|tcp|127.0.0.1:1|grpc\n")
	case "alloc":
		for {
			b := make([]byte, 32<<20)
			for i := range b {
				b[i] = 1
			}
			hoard = append(hoard, b)
		}
	case "fork":
		self, err := os.Executable()
		if err != nil {
			return sdk.Result{}, err
		}
		n := 0
		for ; n < 10000; n++ {
			cmd := exec.Command(self)
			cmd.Env = []string{"HOSTILE_CHILD=1"}
			if err = cmd.Start(); err != nil {
				break
			}
		}
		return sdk.Result{Outcome: sdk.OutcomeFulfilled, Reference: fmt.Sprint(n), Reason: fmt.Sprint(err)}, nil
	case "spin":
		for {
		}
	}
	return sdk.Fulfilled("hostile-" + req.IdempotencyKey), nil
}

// trespass does op on arg and says what came of it.
func trespass(op, arg string) string {
	var out string
	var err error
	switch op {
	case "read":
		var b []byte
		b, err = os.ReadFile(arg)
		out = string(b)
	case "write":
		err = os.WriteFile(arg, []byte(`{"balances":{"mallory":{"GOLD":"1000000"}}}`), 0o644)
	case "list":
		var entries []os.DirEntry
		entries, err = os.ReadDir(arg)
		for _, e := range entries {
			out += e.Name() + " "
		}
	case "kill":
		var pid int
		if pid, err = strconv.Atoi(arg); err == nil {
			err = syscall.Kill(pid, syscall.SIGKILL)
		}
	default:
		return "unknown operation " + op
	}
	if err != nil {
		return err.Error()
	}
	return "ok " + out
}

func main() {
	if os.Getenv("HOSTILE_CHILD") != "" {
		time.Sleep(time.Hour)
		return
	}
	mode, _ := os.ReadFile("mode")
	switch strings.TrimSpace(string(mode)) {
	case "exit":
		os.Exit(0)
	case "garbage":
		fmt.Println("Hello! I am definitely a plugin | trust me")
		time.Sleep(time.Hour)
	case "silent":
		time.Sleep(time.Hour)
	}
	sdk.Serve(hostile{})
}
